"""Xception entry flow (conv1 ... block3) built from timm's ``legacy_xception`` blocks.

300x300x3 -> 728x19x19 per frame. ImageNet weights come through timm's pretrained
mechanism (``xception_weights: imagenet``: downloaded once into its cache, reused after)
or from a local file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from timm.models.xception import Block
from torch import nn

#: Top-level module names of the entry flow, shared with timm's ``legacy_xception``.
ENTRY_FLOW_MODULES = ("conv1", "bn1", "conv2", "bn2", "block1", "block2", "block3")
#: ``model.xception_weights`` value that asks for timm's ImageNet weights.
IMAGENET = "imagenet"
#: The timm model whose pretrained weights initialise the entry flow.
IMAGENET_MODEL = "legacy_xception.tf_in1k"
#: Prefixes found in checkpoints that wrap an Xception (Cadene / FF++ / DataParallel).
_WRAPPER_PREFIXES = ("module.", "model.", "xcep.model.", "xception.", "backbone.")


class XceptionEntryFlow(nn.Module):
    """Xception conv1 ... block3: (N, 3, H, W) -> (N, 728, H/16, W/16) (19x19 at 300x300).

    Parameter names equal timm's ``legacy_xception`` (and the Cadene Xception used by
    FaceForensics++ and the ISTVT authors), so their weights load without renaming.
    """

    out_channels = 728

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.act2 = nn.ReLU(inplace=True)
        self.block1 = Block(64, 128, 2, 2, start_with_relu=False)
        self.block2 = Block(128, 256, 2, 2)
        self.block3 = Block(256, 728, 2, 2)
        self.channels_last = False
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def set_channels_last(self, enabled: bool = True) -> None:
        """Run the convolutions in NHWC memory layout (faster with oneDNN / cuDNN)."""
        self.channels_last = enabled
        fmt = torch.channels_last if enabled else torch.contiguous_format
        self.to(memory_format=fmt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        return self.block3(self.block2(self.block1(x)))


def entry_flow_state_dict(state: Mapping[str, torch.Tensor], source: str) -> dict:
    """Pick the entry-flow tensors out of an Xception state dict.

    Accepts timm ``legacy_xception`` names, Cadene / FaceForensics++ names (2-D pointwise
    weights of the original release are reshaped to 1x1 convolutions) and common wrapper
    prefixes. Raises ``KeyError`` naming ``source`` and the missing keys.
    """
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    picked: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key
        for prefix in _WRAPPER_PREFIXES:
            if name.startswith(prefix) and name[len(prefix) :].split(".")[0] in ENTRY_FLOW_MODULES:
                name = name[len(prefix) :]
                break
        if name.split(".")[0] not in ENTRY_FLOW_MODULES:
            continue
        if name.endswith("pointwise.weight") and value.dim() == 2:
            value = value[:, :, None, None]
        picked[name] = value
    expected = XceptionEntryFlow().state_dict()
    missing = sorted(set(expected) - set(picked))
    if missing:
        raise KeyError(
            f"{source}: not an Xception checkpoint with the entry flow; missing "
            f"{len(missing)} key(s), e.g. {', '.join(missing[:5])}"
        )
    wrong = [k for k in expected if tuple(picked[k].shape) != tuple(expected[k].shape)]
    if wrong:
        detail = ", ".join(
            f"{k} {tuple(picked[k].shape)} != {tuple(expected[k].shape)}" for k in wrong[:5]
        )
        raise KeyError(f"{source}: entry-flow tensors of the wrong shape: {detail}")
    return {k: picked[k] for k in expected}


class PretrainedWeightsUnavailable(RuntimeError):
    """timm's ImageNet weights are neither cached nor downloadable; says what to do."""


def weights_cache(model_name: str = IMAGENET_MODEL) -> str:
    """Where timm keeps ``model_name``'s pretrained file once downloaded."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is not None and cfg.hf_hub_id:
        from huggingface_hub import constants

        return f"{constants.HF_HUB_CACHE} (Hugging Face hub cache, repository {cfg.hf_hub_id})"
    name = Path(cfg.url).name if cfg is not None and cfg.url else "<file>"
    return str(Path(torch.hub.get_dir()) / "checkpoints" / name)


def imagenet_state_dict(model_name: str = IMAGENET_MODEL) -> dict[str, torch.Tensor]:
    """The ImageNet weights of timm's ``model_name``, through timm's own pretrained
    mechanism: downloaded on first use into its cache (torch hub's
    ``$TORCH_HOME/hub/checkpoints`` or the Hugging Face hub's, whichever this timm uses
    for the model), read from there after."""
    import timm

    try:
        net = timm.create_model(model_name, pretrained=True)
    except Exception as exc:  # URLError, HTTP and hub errors: all mean "not available"
        raise PretrainedWeightsUnavailable(
            f"model.xception_weights: imagenet: timm could not load the ImageNet weights "
            f"of {model_name!r} ({type(exc).__name__}: {exc}). They are downloaded once, "
            f"on a machine with internet, into {weights_cache(model_name)}, and reused from "
            f"there. Without internet, copy that file there from a connected machine, or "
            f"set model.xception_weights to the path of a local Xception checkpoint (timm "
            f"legacy_xception or Cadene format)."
        ) from exc
    return net.state_dict()


def load_xception_weights(module: XceptionEntryFlow, path: str | Path) -> None:
    """Load ImageNet Xception weights into ``module``: ``"imagenet"`` (timm's pretrained
    weights, see :func:`imagenet_state_dict`) or a local file."""
    if str(path) == IMAGENET:
        state = imagenet_state_dict()
        module.load_state_dict(entry_flow_state_dict(state, f"timm {IMAGENET_MODEL}"))
        return
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model.xception_weights: {path} does not exist. Point it at a local copy of "
            f"ImageNet Xception weights (timm legacy_xception or Cadene format), set it to "
            f"imagenet to download timm's once, or to null for random initialisation."
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise KeyError(f"{path}: expected a state dict, found {type(state).__name__}")
    module.load_state_dict(entry_flow_state_dict(state, str(path)))

"""Xception entry flow (conv1 ... block3) built from timm's ``legacy_xception`` blocks.

300x300x3 -> 728x19x19 per frame. ImageNet weights come only from a local file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from timm.models.xception import Block
from torch import nn

#: Top-level module names of the entry flow, shared with timm's ``legacy_xception``.
ENTRY_FLOW_MODULES = ("conv1", "bn1", "conv2", "bn2", "block1", "block2", "block3")
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


def load_xception_weights(module: XceptionEntryFlow, path: str | Path) -> None:
    """Load ImageNet Xception weights from a local file into ``module`` (never downloads)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model.xception_weights: {path} does not exist. Point it at a local copy of "
            f"ImageNet Xception weights (timm legacy_xception or Cadene format), or set it "
            f"to null for random initialisation."
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise KeyError(f"{path}: expected a state dict, found {type(state).__name__}")
    module.load_state_dict(entry_flow_state_dict(state, str(path)))

"""Convert weights trained with the authors' code (``XceptionVidTr``) to our ISTVT.

Their model is ``xcep`` (a FaceForensics++ ``TransferModel`` around the Cadene Xception,
of which only ``low_level_features`` = conv1 ... block3 runs) + ``vit`` (``DSTTr``).
Every tensor their forward pass uses maps onto exactly one of ours; Xception tensors
their forward never touches (block4-12, conv3/4, bn3/4, last_linear) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from istvt.config import ModelConfig
from istvt.model.istvt import ISTVT
from istvt.model.xception import ENTRY_FLOW_MODULES

_XCEPTION = "xcep.model."
#: Xception parts the authors' forward never runs.
_UNUSED_XCEPTION = re.compile(r"^(block([4-9]|1[0-2])|conv3|conv4|bn3|bn4|last_linear|fc)(\.|$)")
_SUBLAYER = {"0": "temporal", "1": "spatial", "2": "ff"}
_FIXED = {
    "vit.pos_embedding": "pos_embed",
    "vit.transformer.norm.weight": "norm.weight",
    "vit.transformer.norm.bias": "norm.bias",
    "vit.mlp_head.0.weight": "head_norm.weight",
    "vit.mlp_head.0.bias": "head_norm.bias",
    "vit.mlp_head.1.weight": "head.weight",
    "vit.mlp_head.1.bias": "head.bias",
}
_LAYER = re.compile(r"^vit\.transformer\.layers\.(\d+)\.([012])\.(.+)$")
_INNER = {
    "norm.weight": "norm.weight",
    "norm.bias": "norm.bias",
    "fn.to_qk.weight": "attn.qk.weight",
    "fn.to_v.weight": "attn.v.weight",
    "fn.to_out.0.weight": "attn.proj.weight",
    "fn.to_out.0.bias": "attn.proj.bias",
    "fn.net.0.weight": "fc1.weight",
    "fn.net.0.bias": "fc1.bias",
    "fn.net.3.weight": "fc2.weight",
    "fn.net.3.bias": "fc2.bias",
}


class ConversionError(KeyError):
    """The state dict does not fit the authors' ISTVT; lists the offending keys."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def _strip_wrappers(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "model."):
            if key.startswith(prefix) and key[len(prefix) :].startswith(("xcep.", "vit.")):
                key = key[len(prefix) :]
        out[key] = value
    return out


def infer_authors_config(state: Mapping[str, torch.Tensor], **overrides) -> ModelConfig:
    """Read T, depth and token grid size off an authors' state dict.

    Heads cannot be read from the weights (only heads x dim_head); the authors' 8 x 64
    is assumed unless overridden.
    """
    state = _strip_wrappers(state)
    if "vit.pos_embedding" not in state:
        raise ConversionError("not an authors' ISTVT state dict: no 'vit.pos_embedding'")
    _, t, positions, dim = state["vit.pos_embedding"].shape
    depth = 1 + max((int(m.group(1)) for k in state if (m := _LAYER.match(k))), default=-1)
    side = int(round((positions - 1) ** 0.5))
    if side * side + 1 != positions:
        raise ConversionError(f"pos_embedding has {positions} positions, not a square + 1")
    # smallest input size whose entry flow yields `side` (300 for 19, as in the paper)
    image_size = (
        300
        if side == 19
        else next(s for s in range(40, 4096) if ModelConfig(image_size=s).feature_size == side)
    )
    hidden = state["vit.transformer.layers.0.2.fn.net.0.weight"].shape[0]
    values = dict(
        sequence_length=t,
        num_layers=depth,
        embed_dim=dim,
        image_size=image_size,
        mlp_ratio=hidden / dim,
        attention="temporal_first",
        self_subtract=True,
    )
    values.update(overrides)
    return ModelConfig(**values)


def convert_authors_state_dict(
    state: Mapping[str, torch.Tensor], cfg: ModelConfig | None = None
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """Map an authors' ``XceptionVidTr`` state dict onto ours.

    Returns ``(state_dict, model_config)``. Raises :class:`ConversionError` listing the
    keys that match nothing (other than the ignored Xception tail) or that are missing.
    """
    state = _strip_wrappers(state)
    cfg = cfg or infer_authors_config(state)
    inner = cfg.num_heads * cfg.dim_head
    out: dict[str, torch.Tensor] = {}
    unmatched: list[str] = []
    for key, value in state.items():
        if key.startswith(_XCEPTION):
            name = key[len(_XCEPTION) :]
            if name.split(".")[0] in ENTRY_FLOW_MODULES:
                if name.endswith("pointwise.weight") and value.dim() == 2:
                    value = value[:, :, None, None]
                out[f"entry_flow.{name}"] = value
            elif not _UNUSED_XCEPTION.match(name):
                unmatched.append(key)
        elif key in _FIXED:
            out[_FIXED[key]] = value
        elif key in ("vit.space_token", "vit.temporal_token"):
            out[key[4:]] = value.reshape(1, 1, 1, -1)
        elif (m := _LAYER.match(key)) and m.group(3) in _INNER:
            layer, sub, rest = m.groups()
            prefix = f"blocks.{layer}.{_SUBLAYER[sub]}"
            out[f"{prefix}.{_INNER[rest]}"] = value
        elif (m := _LAYER.match(key)) and m.group(3) == "fn.to_qkv.weight":
            layer, sub, _ = m.groups()
            prefix = f"blocks.{layer}.{_SUBLAYER[sub]}.attn"
            out[f"{prefix}.qk.weight"] = value[: 2 * inner]
            out[f"{prefix}.v.weight"] = value[2 * inner :]
        else:
            unmatched.append(key)
    if unmatched:
        raise ConversionError(
            f"{len(unmatched)} key(s) of the authors' state dict match nothing in ISTVT: "
            + ", ".join(sorted(unmatched))
        )
    expected = ISTVT(cfg).state_dict()
    missing = sorted(set(expected) - set(out))
    if missing:
        raise ConversionError(
            f"the authors' state dict lacks {len(missing)} tensor(s) ISTVT needs: "
            + ", ".join(missing)
        )
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(out[k].shape)]
    if wrong:
        raise ConversionError(
            "shape mismatch: "
            + ", ".join(f"{k} {tuple(out[k].shape)} != {tuple(expected[k].shape)}" for k in wrong)
        )
    return {k: out[k] for k in expected}, cfg


def convert_authors_checkpoint(src: str | Path, dst: str | Path) -> ModelConfig:
    """``istvt convert-authors SRC DST``: authors' .pth -> our checkpoint format."""
    from istvt.checkpoint import save_checkpoint

    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    state = torch.load(src, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ConversionError(f"{src}: expected a state dict, found {type(state).__name__}")
    converted, cfg = convert_authors_state_dict(state)
    model = ISTVT(cfg)
    model.load_state_dict(converted)
    save_checkpoint(dst, model, extra={"converted_from": str(src)})
    return cfg

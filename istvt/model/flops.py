"""Cost of a model per clip, in the convention of the paper's Tables IV-V.

The paper's "GFLOPs" are multiply-accumulates (MACs) of the convolution and linear
layers; the attention products (q k^T and attn v), which carry no weights, are not in
them. We count MACs from the real module graph, run on PyTorch's ``meta`` device (shapes
only, no arithmetic, so even T=16 is instant), and report the attention products apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import torch
import yaml
from torch import nn

from istvt.config import ModelConfig
from istvt.model.attention import Attention
from istvt.model.istvt import ISTVT


@dataclass(frozen=True)
class Cost:
    """MACs per clip, split by kind; ``total`` = conv + linear (the paper's convention)."""

    conv: int
    linear: int
    attention: int
    params: int

    @property
    def total(self) -> int:
        return self.conv + self.linear

    @property
    def gmacs(self) -> float:
        return self.total / 1e9


def model_gmacs(model: dict) -> float:
    """GMACs per clip of the model a config's ``model`` dict describes (counted on the
    meta device, once per architecture)."""
    return _gmacs_of(json.dumps(ModelConfig.from_dict(model).architecture(), sort_keys=True))


@cache
def _gmacs_of(architecture: str) -> float:
    return count_macs(ModelConfig.from_dict(json.loads(architecture))).total / 1e9


def count_macs(cfg: ModelConfig) -> Cost:
    """MACs of one clip through the model described by ``cfg`` (no weights are read)."""
    cfg = cfg.replace(xception_weights=None)
    counts = {"conv": 0, "linear": 0, "attention": 0}

    def conv_hook(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        counts["conv"] += out.numel() * k

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        counts["linear"] += out.numel() * m.in_features

    def attention_hook(m: Attention, inp: tuple[torch.Tensor], _out) -> None:
        b, r, p, _ = inp[0].shape
        groups, length = {"temporal": (p, r), "spatial": (r, p), "joint": (1, r * p)}[m.axis]
        counts["attention"] += 2 * b * groups * m.num_heads * length * length * m.dim_head

    with torch.device("meta"):
        model = ISTVT(cfg).eval()
        frames = torch.empty(1, cfg.sequence_length, 3, cfg.image_size, cfg.image_size)
    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, Attention):
            hooks.append(m.register_forward_hook(attention_hook))
    with torch.no_grad():
        model(frames)
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    return Cost(
        conv=counts["conv"], linear=counts["linear"], attention=counts["attention"], params=params
    )


@lru_cache(maxsize=1)
def paper_results() -> dict:
    """The paper's published figures (``istvt/paper_results.yaml``)."""
    text = resources.files("istvt").joinpath("paper_results.yaml").read_text()
    return yaml.safe_load(text)


def flops_table(base: ModelConfig | None = None) -> list[dict]:
    """Rows of the paper's Tables IV (T at M=12) and V (M at T=6): ours beside theirs."""
    base = base or ModelConfig()
    paper = paper_results()
    rows = []
    for table, key, field in (
        ("IV", "table4_sequence_length", "sequence_length"),
        ("V", "table5_depth", "num_layers"),
    ):
        for value, paper_g in paper[key]["gflops"].items():
            cfg = base.replace(**{field: int(value)})
            cost = count_macs(cfg)
            rows.append(
                {
                    "table": table,
                    "sequence_length": cfg.sequence_length,
                    "num_layers": cfg.num_layers,
                    "ours_gmacs": round(cost.gmacs, 2),
                    "paper_gflops": paper_g,
                    "diff_percent": round(100 * (cost.gmacs - paper_g) / paper_g, 2),
                    "conv_gmacs": round(cost.conv / 1e9, 2),
                    "linear_gmacs": round(cost.linear / 1e9, 2),
                    "attention_gmacs": round(cost.attention / 1e9, 2),
                    "params_m": round(cost.params / 1e6, 2),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table of :func:`flops_table` rows."""
    cols = [
        ("table", "Table"),
        ("sequence_length", "T"),
        ("num_layers", "M"),
        ("ours_gmacs", "ours GMACs"),
        ("paper_gflops", "paper GFLOPs"),
        ("diff_percent", "diff %"),
        ("conv_gmacs", "conv"),
        ("linear_gmacs", "linear"),
        ("attention_gmacs", "attn products (not counted)"),
        ("params_m", "params M"),
    ]
    lines = [
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    lines += ["| " + " | ".join(str(r[k]) for k, _ in cols) + " |" for r in rows]
    return "\n".join(lines)

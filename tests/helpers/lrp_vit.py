"""Chefer et al.'s small reference ViT (``../shared/data/reference/lrp-vit``) built from
istvt's own layers, explained with istvt's own relevance code.

The reference model is a plain pre-norm ViT. Its blocks are istvt ``Block``s of layout
``spatial_only`` (``x + S(x)``, then ``x + FFN(x)``) on a grid of one row: the 17 tokens
(CLS first) are the row's positions. What differs from an ISTVT block is loaded into
the same modules: the reference's single ``qkv`` layer (with a bias) becomes our ``qk``
and ``v`` layers, and its LayerNorms use eps 1e-6 (the final one 1e-5).

Everything that computes relevance is istvt's: the recorded forward pass and the
per-block relevance pass of :mod:`istvt.interpret.relevance`, the rules of
:mod:`istvt.interpret.rules`, Eq. 4's :func:`lrp_matrix` and :func:`rollout`.
"""

from __future__ import annotations

import torch
from torch import nn

from istvt.config import ModelConfig
from istvt.interpret import relevance, rules
from istvt.model.istvt import Block

DIM, HEADS, DEPTH, PATCH, IMAGE = 48, 4, 3, 8, 32


class ReferenceViT(nn.Module):
    """The reference's ``VisionTransformer(img_size=32, patch_size=8, embed_dim=48,
    depth=3, num_heads=4, mlp_ratio=4, qkv_bias=True, num_classes=2)``."""

    def __init__(self) -> None:
        super().__init__()
        cfg = ModelConfig(
            embed_dim=DIM, num_heads=HEADS, dim_head=DIM // HEADS, mlp_ratio=4.0, num_layers=DEPTH
        )
        self.patch = nn.Conv2d(3, DIM, PATCH, stride=PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, (IMAGE // PATCH) ** 2 + 1, DIM))
        self.blocks = nn.ModuleList(Block(cfg, "spatial_only") for _ in range(DEPTH))
        for blk in self.blocks:
            attn = blk.spatial.attn
            attn.qk = nn.Linear(DIM, 2 * DIM, bias=True)
            attn.v = nn.Linear(DIM, DIM, bias=True)
            attn.fused = False
            blk.spatial.norm.eps = blk.ff.norm.eps = 1e-6
        self.norm = nn.LayerNorm(DIM)  # eps 1e-5: the reference's own inconsistency
        self.head = nn.Linear(DIM, 2)

    @classmethod
    def from_reference(cls, state: dict[str, torch.Tensor]) -> ReferenceViT:
        model = cls()
        ours = {
            "pos_embed": state["pos_embed"],
            "cls_token": state["cls_token"],
            "patch.weight": state["patch_embed.proj.weight"],
            "patch.bias": state["patch_embed.proj.bias"],
            "norm.weight": state["norm.weight"],
            "norm.bias": state["norm.bias"],
            "head.weight": state["head.weight"],
            "head.bias": state["head.bias"],
        }
        for i in range(DEPTH):
            b = o = f"blocks.{i}."  # same block prefix in both layouts
            qkv_w, qkv_b = state[b + "attn.qkv.weight"], state[b + "attn.qkv.bias"]
            ours |= {
                o + "spatial.norm.weight": state[b + "norm1.weight"],
                o + "spatial.norm.bias": state[b + "norm1.bias"],
                o + "spatial.attn.qk.weight": qkv_w[: 2 * DIM],  # q then k, head-major
                o + "spatial.attn.qk.bias": qkv_b[: 2 * DIM],
                o + "spatial.attn.v.weight": qkv_w[2 * DIM :],
                o + "spatial.attn.v.bias": qkv_b[2 * DIM :],
                o + "spatial.attn.proj.weight": state[b + "attn.proj.weight"],
                o + "spatial.attn.proj.bias": state[b + "attn.proj.bias"],
                o + "ff.norm.weight": state[b + "norm2.weight"],
                o + "ff.norm.bias": state[b + "norm2.bias"],
                o + "ff.fc1.weight": state[b + "mlp.fc1.weight"],
                o + "ff.fc1.bias": state[b + "mlp.fc1.bias"],
                o + "ff.fc2.weight": state[b + "mlp.fc2.weight"],
                o + "ff.fc2.bias": state[b + "mlp.fc2.bias"],
            }
        model.load_state_dict(ours)
        return model.eval()

    def recorded(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """(logits (B, 2), record) with every block's record, tokens as a (B, 1, 17, C)
        grid."""
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat((self.cls_token.expand(len(x), -1, -1), t), dim=1) + self.pos_embed
        t = t[:, None]
        blocks = []
        for blk in self.blocks:
            t, rec = relevance._block(blk, t)
            blocks.append(rec)
        pooled = self.norm(t)[:, 0, 0]
        return self.head(pooled), {"blocks": blocks, "tokens": t, "pooled": pooled}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.recorded(x)[0]


def explain(model: ReferenceViT, x: torch.Tensor, method: str, index: int, start: int = 0):
    """The CLS row over the 16 patches, (B, 16), of one of the reference's maps:
    ``transformer_attribution`` (Chefer et al.'s method), ``rollout`` or
    ``attn_last_layer``."""
    with torch.enable_grad():
        logits, record = model.recorded(x)
        attn = [blk["spatial"]["A"] for blk in record["blocks"]]
        grads = torch.autograd.grad(logits[:, index].sum(), attn)
    with torch.no_grad():
        if method == "attn_last_layer":
            rows = attn[-1].mean(2)
        elif method == "rollout":
            rows = relevance.rollout(
                [0.5 * a.mean(2) + 0.5 * relevance._eye_like(a.mean(2)) for a in attn], start
            )
        elif method == "transformer_attribution":
            onehot = torch.zeros_like(logits)
            onehot[:, index] = 1.0
            relevant = torch.zeros_like(record["tokens"])
            relevant[:, 0, 0] = rules.linear(record["pooled"], model.head.weight, onehot)
            for blk, rec in zip(reversed(model.blocks), reversed(record["blocks"]), strict=True):
                relevant = relevance._block_relprop(blk, rec, relevant)
            mats = [
                relevance.lrp_matrix(rec["spatial"]["R_A"], g, "clamp_then_mean")
                for rec, g in zip(record["blocks"], grads, strict=True)
            ]
            rows = relevance.rollout(mats, start)
        else:
            raise ValueError(method)
    assert rows.shape[1] == 1  # one row: G = 1
    return rows[:, 0, 0, 1:]

"""Attention over one axis of a video token grid, with self-subtract.

Tokens live in a grid ``x`` of shape (B, R, P, C): R time rows (the temporal cls row and
the T frames), P positions per row (the spatial cls token and the H*W feature-map
positions), C channels.

* temporal attention: for every position p, attention over the R rows;
* spatial attention: for every row r, attention over the P positions;
* joint attention: one attention over all R*P tokens.

Two numerically equivalent paths compute the attention itself: the fused
``F.scaled_dot_product_attention`` (fast, memory-lean) and an explicit
``softmax(q k^T * scale) v`` that can keep the attention map and its gradient for
relevance propagation.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Axis = Literal["temporal", "spatial", "joint"]
AXES = ("temporal", "spatial", "joint")


def self_subtract(x: torch.Tensor) -> torch.Tensor:
    """Self-subtract of the paper's Eq. 3 along the time axis (dim 1).

    Row 0 (temporal cls) and row 1 (first frame) are kept; every later frame is replaced
    by its difference to the previous frame: ``cat(x[:, 0:2], x[:, 2:] - x[:, 1:-1])``.

    Args:
        x: (B, R, P, C) with R = T + 1 >= 2.
    """
    return torch.cat((x[:, :2], x[:, 2:] - x[:, 1:-1]), dim=1)


class Attention(nn.Module):
    """Multi-head self-attention along one axis of a (B, R, P, C) token grid.

    Queries and keys come from ``qk`` (optionally applied to the self-subtracted input),
    values from ``v`` applied to the input itself, as in the authors'
    ``TemporalResidualAttention``; the same two projections serve every axis.

    Attributes:
        fused: use ``F.scaled_dot_product_attention`` (True) or the explicit softmax path.
        keep_attention: on the explicit path, store the attention map (and, in backward,
            its gradient) in ``attention_map`` / ``attention_grad`` of shape
            (B, G, heads, L, L) where G indexes the independent sequences.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dim_head: int,
        axis: Axis,
        self_subtract: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if axis not in AXES:
            raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
        if self_subtract and axis != "temporal":
            raise ValueError("self-subtract is defined for temporal attention only")
        inner = num_heads * dim_head
        self.axis = axis
        self.num_heads = num_heads
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.self_subtract = self_subtract
        self.qk = nn.Linear(dim, 2 * inner, bias=False)
        self.v = nn.Linear(dim, inner, bias=False)
        self.proj = nn.Linear(inner, dim)
        self.proj_drop = nn.Dropout(dropout)
        self.fused = True
        self.keep_attention = False
        self.attention_map: torch.Tensor | None = None
        self.attention_grad: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return (
            f"axis={self.axis}, heads={self.num_heads}, dim_head={self.dim_head}, "
            f"self_subtract={self.self_subtract}"
        )

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, R, P, heads*d) -> (B, G, heads, L, d) with L the attended axis."""
        b, r, p, _ = t.shape
        t = t.view(b, r, p, self.num_heads, self.dim_head)
        if self.axis == "temporal":  # G = P positions, L = R rows
            return t.permute(0, 2, 3, 1, 4)
        if self.axis == "spatial":  # G = R rows, L = P positions
            return t.permute(0, 1, 3, 2, 4)
        return t.reshape(b, 1, r * p, self.num_heads, self.dim_head).transpose(2, 3)

    def merge_heads(self, t: torch.Tensor, r: int, p: int) -> torch.Tensor:
        """(B, G, heads, L, d) -> (B, R, P, heads*d)."""
        b = t.shape[0]
        if self.axis == "temporal":
            t = t.permute(0, 3, 1, 2, 4)
        elif self.axis == "spatial":
            t = t.permute(0, 1, 3, 2, 4)
        else:
            t = t.transpose(2, 3)
        return t.reshape(b, r, p, self.num_heads * self.dim_head)

    def _save_grad(self, grad: torch.Tensor) -> None:
        self.attention_grad = grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, R, P, C) normalised tokens -> (B, R, P, C)."""
        b, r, p, _ = x.shape
        q, k = self.qk(self_subtract(x) if self.self_subtract else x).chunk(2, dim=-1)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(self.v(x))
        g, length = q.shape[1], q.shape[3]
        if self.fused and not self.keep_attention:
            shape = (b * g, self.num_heads, length, self.dim_head)
            out = F.scaled_dot_product_attention(
                q.reshape(shape), k.reshape(shape), v.reshape(shape), scale=self.scale
            ).view(b, g, self.num_heads, length, self.dim_head)
        else:
            attn = torch.matmul(q * self.scale, k.transpose(-2, -1)).softmax(dim=-1)
            if self.keep_attention:
                self.attention_map = attn
                if attn.requires_grad:
                    attn.register_hook(self._save_grad)
            out = torch.matmul(attn, v)
        return self.proj_drop(self.proj(self.merge_heads(out, r, p)))

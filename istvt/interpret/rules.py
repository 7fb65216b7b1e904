"""Layer-wise relevance propagation rules (Chefer et al., CVPR 2021, §3.1–3.2).

Each rule takes a layer's input(s) and the relevance ``R`` of its output and returns the
relevance of the input(s). The rules used for transformers:

* linear layers: LRP-alpha1-beta0 (only positive contributions ``x_j w_jk > 0`` carry
  relevance), biases ignored;
* element-wise additions (residuals): the z-rule (shares in proportion to each
  operand's contribution), rescaled so that every operand gets a share of the total in
  proportion to the absolute sum of its contributions; the total is conserved;
* products of two tensors (``A @ V``, ``Q @ K^T``): the z-rule for both operands, each
  halved so that the two together conserve the relevance;
* any other linear map without parameters (the self-subtract): the z-rule
  ``x * J^T (R / z)`` computed with autograd;
* LayerNorm, GELU, softmax and dropout pass relevance through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

EPS = 1e-9


def safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a / b`` with denominators pushed away from zero (``|b| >= EPS``, sign kept) and
    0 where ``b`` is exactly 0."""
    den = torch.where(b >= 0, b.clamp(min=EPS), b.clamp(max=-EPS))
    return torch.where(b == 0, torch.zeros_like(a), a / den)


def linear(x: torch.Tensor, weight: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
    """LRP-alpha1-beta0 through ``x @ weight.T`` (x: (..., in), weight: (out, in))."""
    wp, wn = weight.clamp(min=0), weight.clamp(max=0)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    z = xp @ wp.T + xn @ wn.T  # the positive part of every output's pre-activation
    s = safe_div(relevance, z)
    return xp * (s @ wp) + xn * (s @ wn)


def _per_sample_sum(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).sum(1).view(-1, *([1] * (t.dim() - 1)))


def add(inputs: Sequence[torch.Tensor], relevance: torch.Tensor) -> list[torch.Tensor]:
    """Relevance of the operands of ``sum(inputs)`` (same shapes, batch first)."""
    s = safe_div(relevance, sum(inputs))
    parts = [x * s for x in inputs]
    sums = [_per_sample_sum(p) for p in parts]
    total = sum(a.abs() for a in sums)
    out_total = _per_sample_sum(relevance)
    shares = [safe_div(a.abs(), total) * out_total for a in sums]
    return [p * safe_div(share, a) for p, share, a in zip(parts, shares, sums, strict=True)]


def matmul(
    a: torch.Tensor, b: torch.Tensor, relevance: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Relevance of both factors of ``a @ b``, halved so that together they conserve it."""
    s = safe_div(relevance, a @ b)
    return a * (s @ b.transpose(-2, -1)) / 2, b * (a.transpose(-2, -1) @ s) / 2


def z_rule(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, relevance: torch.Tensor
) -> torch.Tensor:
    """Relevance of the input of a parameter-free linear map ``fn``: ``x * J^T(R / z)``."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        z = fn(x)
        (g,) = torch.autograd.grad(z, x, safe_div(relevance, z.detach()))
    return x.detach() * g

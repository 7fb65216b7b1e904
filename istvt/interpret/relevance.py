"""Spatial and temporal relevance maps of ISTVT (paper §III-D, Eq. 4–5, Algorithm 1).

ISTVT-LRP, for one class (fake by default):

1. a forward pass that records, for every block, the inputs of each layer and the
   softmax attention maps ``A`` of both attentions;
2. the gradient ``∇A`` of the class logit with respect to every attention map;
3. relevance propagation (:mod:`istvt.interpret.rules`) from the logit through the
   head, the final norms and every block — FFN, residual adds, both attentions
   including their query/key (self-subtract) and value paths — giving the relevance
   ``R_A`` of every attention map;
4. per block and attention type, ``Ā = I + mean_heads((R_A ∘ ∇A)⁺)`` (Eq. 4,
   ``E_h((∇A ⊙ R)⁺)``: each head's positive part, then the mean, as Chefer et al.'s
   code does; ``fusion='mean_then_clamp'`` clamps the mean instead);
5. the rollout ``U = Ā(M) ··· Ā(1)`` for every temporal slice (one per spatial
   position) and every spatial slice (one per time row) (Eq. 5). The paper writes the
   product in block order; the cls-row read-out needs the last block leftmost (the cls
   token of block M attends to the tokens of block M-1, ...), as in Chefer et al.'s
   code;
6. the temporal map ``U_t[1:, 0, 1:]`` (HW×T) and the spatial map ``U_s[1:, 0, 1:]``
   (T×HW), both returned as T×h×w token grids.

Baselines in the same frame: the raw attention of the last block, attention rollout
(Abnar & Zuidema 2020: ``Ā = ½ I + ½ mean_heads(A)``), Grad-CAM on the entry-flow
features and a uniform random map.

For the faithfulness measures one map per clip is needed: for the attention methods it
is the token-wise product of the spatial and the temporal map (a token matters if its
frame matters at its position and its position matters in its frame); Grad-CAM and
random give one map directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from istvt.interpret import rules
from istvt.interpret.settings import (
    CLASSES,
    DECOMPOSED,
    HEAD_FUSIONS,
    METHODS,
    READOUTS,
)
from istvt.model import ISTVT
from istvt.model.attention import self_subtract


@dataclass
class Explanation:
    """Relevance maps of a batch of clips, as token grids (B, T, h, w).

    ``spatial`` / ``temporal`` are None for methods without them; ``joint`` is the one
    map per clip used by the faithfulness measures; ``logits`` are the model's fake
    logits of the clips.
    """

    method: str
    joint: torch.Tensor
    logits: torch.Tensor
    spatial: torch.Tensor | None = None
    temporal: torch.Tensor | None = None


def check_supported(model: ISTVT, method: str) -> None:
    """Raise a ValueError naming the variant when ``method`` cannot explain it."""
    if method not in METHODS:
        raise ValueError(f"unknown relevance method {method!r}; choose from {METHODS}")
    variant = model.cfg.attention
    if method in ("lrp", "rollout", "raw_attention") and variant not in DECOMPOSED:
        raise ValueError(
            f"relevance method {method!r} needs a temporal and a spatial attention in every "
            f"block (attention: {', '.join(DECOMPOSED)}); this model's attention is "
            f"{variant!r}. Use method 'gradcam' for it, or a decomposed variant."
        )
    if method in ("lrp", "rollout", "raw_attention") and model.cfg.readout != "cls":
        raise ValueError(
            f"relevance method {method!r} reads the cls token's attention rows; this model "
            f"reads out the {model.cfg.readout!r} of its frame tokens (model.readout). Use "
            f"method 'gradcam' for it, or a model with readout: cls (the paper's)."
        )


# ----------------------------------------------------------------- recorded forward
def _attention(pre, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """A pre-norm attention (``PreNormAttention``) on the explicit path, recording what
    the relevance rules need."""
    attn = pre.attn
    b, r, p, _ = x.shape
    xn = pre.norm(x)
    qk_in = self_subtract(xn) if attn.self_subtract else xn
    q, k = attn.qk(qk_in).chunk(2, dim=-1)
    q, k, v = attn.split_heads(q), attn.split_heads(k), attn.split_heads(attn.v(xn))
    qs = q * attn.scale
    a = torch.matmul(qs, k.transpose(-2, -1)).softmax(dim=-1)
    merged = attn.merge_heads(torch.matmul(a, v), r, p)
    rec = {"xn": xn, "qk_in": qk_in, "q": qs, "k": k, "v": v, "A": a, "merged": merged}
    return attn.proj(merged), rec


def _feedforward(ff, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    xn = ff.norm(x)
    hidden = ff.act(ff.fc1(xn))
    return ff.fc2(hidden), {"xn": xn, "hidden": hidden}


#: the attention of a block with one attention, by layout (a ViT block is "spatial_only")
SINGLE = {"spatial_only": "spatial", "temporal_only": "temporal", "joint": "joint"}


def _block(blk, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    rec: dict = {"x": x, "layout": blk.layout}
    if blk.layout == "temporal_first":
        t_out, rec["temporal"] = _attention(blk.temporal, x)
        s_out, rec["spatial"] = _attention(blk.spatial, t_out)
        rec["t_out"], rec["mix"] = t_out, [s_out, x]
    elif blk.layout == "spatial_first":
        s_out, rec["spatial"] = _attention(blk.spatial, x)
        t_out, rec["temporal"] = _attention(blk.temporal, s_out)
        rec["s_out"], rec["mix"] = s_out, [t_out, x]
    elif blk.layout == "parallel":
        t_out, rec["temporal"] = _attention(blk.temporal, x)
        s_out, rec["spatial"] = _attention(blk.spatial, x)
        rec["mix"] = [t_out, s_out, x]
    else:  # one attention: x + A(x)
        kind = SINGLE[blk.layout]
        out, rec[kind] = _attention(getattr(blk, kind), x)
        rec["mix"] = [out, x]
    y = sum(rec["mix"])
    f_out, rec["ff"] = _feedforward(blk.ff, y)
    rec["y"], rec["res"] = y, [f_out, y]
    return f_out + y, rec


def recorded_forward(model: ISTVT, frames: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The model's forward pass (decomposed layouts) with every intermediate kept.

    Returns (fake logits (B,), record). Equal to ``model(frames)`` up to float rounding.
    """
    b = frames.shape[0]
    feats = model.entry_flow(frames.flatten(0, 1))
    x = model.tokens_from_features(feats, b)
    blocks = []
    for blk in model.blocks:
        x, rec = _block(blk, x)
        blocks.append(rec)
    pooled = model.head_norm(model.norm(x)[:, 0, 0])
    logits = model.head(pooled).squeeze(-1)
    return logits, {"feats": feats, "blocks": blocks, "tokens": x, "pooled": pooled}


# -------------------------------------------------------------------- relevance pass
def _attention_relprop(pre, rec: dict, relevance: torch.Tensor) -> torch.Tensor:
    """Relevance of a pre-norm attention's input; stores ``R_A`` in ``rec``."""
    attn = pre.attn
    b, r, p, _ = rec["xn"].shape
    r_ctx = attn.split_heads(rules.linear(rec["merged"], attn.proj.weight, relevance))
    r_a, r_v = rules.matmul(rec["A"], rec["v"], r_ctx)
    rec["R_A"] = r_a  # softmax passes relevance through: R of the scores = R_A
    r_q, r_kt = rules.matmul(rec["q"], rec["k"].transpose(-2, -1), r_a)
    r_qk = torch.cat(
        (attn.merge_heads(r_q, r, p), attn.merge_heads(r_kt.transpose(-2, -1), r, p)), dim=-1
    )
    r_qk_in = rules.linear(rec["qk_in"], attn.qk.weight, r_qk)
    if attn.self_subtract:
        r_qk_in = rules.z_rule(self_subtract, rec["xn"], r_qk_in)
    r_v_in = rules.linear(rec["xn"], attn.v.weight, attn.merge_heads(r_v, r, p))
    return r_qk_in + r_v_in  # the norm passes relevance through


def _block_relprop(blk, rec: dict, relevance: torch.Tensor) -> torch.Tensor:
    r_f, r_y = rules.add(rec["res"], relevance)
    ff = blk.ff
    r_hidden = rules.linear(rec["ff"]["hidden"], ff.fc2.weight, r_f)
    r_y = r_y + rules.linear(rec["ff"]["xn"], ff.fc1.weight, r_hidden)
    parts = rules.add(rec["mix"], r_y)
    if rec["layout"] == "temporal_first":
        r_t = _attention_relprop(blk.spatial, rec["spatial"], parts[0])
        return parts[1] + _attention_relprop(blk.temporal, rec["temporal"], r_t)
    if rec["layout"] == "spatial_first":
        r_s = _attention_relprop(blk.temporal, rec["temporal"], parts[0])
        return parts[1] + _attention_relprop(blk.spatial, rec["spatial"], r_s)
    if rec["layout"] == "parallel":
        r_t = _attention_relprop(blk.temporal, rec["temporal"], parts[0])
        r_s = _attention_relprop(blk.spatial, rec["spatial"], parts[1])
        return parts[2] + r_t + r_s
    kind = SINGLE[rec["layout"]]
    return parts[1] + _attention_relprop(getattr(blk, kind), rec[kind], parts[0])


def propagate(model: ISTVT, record: dict, target: str = "fake") -> torch.Tensor:
    """Run relevance from the ``target`` class logit down to the first block's input.

    Stores ``R_A`` in every attention record and returns the token-grid relevance
    (B, R, P, C) at the input of the first block.
    """
    sign = 1.0 if target == "fake" else -1.0  # p(real) = sigmoid(-logit)
    pooled = record["pooled"]
    r_pooled = rules.linear(pooled, sign * model.head.weight, torch.ones_like(pooled[:, :1]))
    relevance = torch.zeros_like(record["tokens"])
    relevance[:, 0, 0] = r_pooled  # the two final norms pass relevance through
    for blk, rec in zip(reversed(model.blocks), reversed(record["blocks"]), strict=True):
        relevance = _block_relprop(blk, rec, relevance)
    return relevance


# -------------------------------------------------------------------------- rollout
def rollout(matrices: list[torch.Tensor], start: int = 0) -> torch.Tensor:
    """``Ā(M) ··· Ā(start+1)`` of per-block (..., L, L) matrices (first block first in the
    list; ``start`` counts blocks left out at the bottom, as Chefer et al.'s
    ``start_layer``)."""
    if not 0 <= start < len(matrices):
        raise ValueError(f"rollout start {start} outside the {len(matrices)} blocks")
    out = matrices[start]
    for m in matrices[start + 1 :]:
        out = m @ out
    return out


def _eye_like(a: torch.Tensor) -> torch.Tensor:
    return torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)


def lrp_matrix(
    r_a: torch.Tensor, grad: torch.Tensor, fusion: str, gradient: bool = True
) -> torch.Tensor:
    """Eq. 4: ``I + E_h((R_A ∘ ∇A)⁺)`` from (B, G, heads, L, L) tensors.

    ``fusion='clamp_then_mean'`` (Eq. 4 and Chefer et al.'s code, which
    tests/test_lrp_reference.py reproduces) removes each head's negative values before
    the head mean; ``'mean_then_clamp'`` clamps the mean, an earlier reading of Eq. 4.
    ``gradient=False`` leaves out Eq. 4's gradient factor (the relevance alone).
    """
    cam = r_a * grad if gradient else r_a
    cam = cam.mean(dim=2).clamp(min=0) if fusion == "mean_then_clamp" else cam.clamp(min=0).mean(2)
    return cam + _eye_like(cam)


def read_maps(temporal: torch.Tensor, spatial: torch.Tensor, h: int, w: int):
    """U_t (B, P, R, R) and U_s (B, R, P, P) -> temporal and spatial maps (B, T, h, w)."""
    b = temporal.shape[0]
    t_map = temporal[:, 1:, 0, 1:].transpose(1, 2)  # (B, T, HW)
    s_map = spatial[:, 1:, 0, 1:]  # (B, T, HW)
    return t_map.reshape(b, -1, h, w), s_map.reshape(b, -1, h, w)


def grid_rollout(
    temporal: list[torch.Tensor], spatial: list[torch.Tensor], layout: str, h: int, w: int
) -> torch.Tensor:
    """The output token's row of the rollout over the whole token grid, (B, T, h, w).

    Per block the grid's mixing matrix is composed from its temporal (B, P, R, R) and
    spatial (B, R, P, P) matrices as the block composes its attentions
    (``temporal_first``: S·T, ``spatial_first``: T·S, ``parallel``: T + S - I), and the
    cls-cls token's row is carried down from the last block, so every path from a
    frame token to the output counts, whichever attention it takes first. The paper's
    maps read each attention type's own rollout instead (:func:`read_maps`).
    """
    b, r, p = spatial[0].shape[:3]
    row = torch.zeros(b, r, p, dtype=spatial[0].dtype, device=spatial[0].device)
    row[:, 0, 0] = 1.0

    def through_t(v, m):  # v (B, R, P) over a temporal mixing's outputs -> its inputs
        return torch.einsum("brp,bprs->bsp", v, m)

    def through_s(v, m):
        return torch.einsum("brp,brpq->brq", v, m)

    for m_t, m_s in zip(reversed(temporal), reversed(spatial), strict=True):
        if layout == "temporal_first":
            row = through_t(through_s(row, m_s), m_t)
        elif layout == "spatial_first":
            row = through_s(through_t(row, m_t), m_s)
        else:  # parallel
            row = through_t(row, m_t) + through_s(row, m_s) - row
    return row[:, 1:, 1:].reshape(b, r - 1, h, w)


def _attention_records(record: dict, kind: str) -> list[dict]:
    return [blk[kind] for blk in record["blocks"]]


def explain(
    model: ISTVT,
    frames: torch.Tensor,
    method: str = "lrp",
    target: str = "fake",
    fusion: str = "clamp_then_mean",
    generator: torch.Generator | None = None,
    readout: str = "paper",
    gradient: bool = True,
) -> Explanation:
    """Relevance maps of the clips ``frames`` (B, T, 3, H, W) for class ``target``.

    Maps are token grids (B, T, h, w); :func:`upsample` brings them to the input size.
    ``readout='paper'`` reads each attention type's rollout (Eq. 5) and joins the
    spatial and temporal maps by their product; ``'grid'`` rolls out over the whole
    token grid (:func:`grid_rollout`) and gives only the joint map. ``gradient=False``
    drops Eq. 4's gradient factor from ISTVT-LRP.
    """
    check_supported(model, method)
    if target not in CLASSES:
        raise ValueError(f"target class must be one of {CLASSES}, got {target!r}")
    if fusion not in HEAD_FUSIONS:
        raise ValueError(f"head fusion must be one of {HEAD_FUSIONS}, got {fusion!r}")
    if readout not in READOUTS:
        raise ValueError(f"relevance readout must be one of {READOUTS}, got {readout!r}")
    model.eval()
    h = w = model.cfg.feature_size
    b, t = frames.shape[:2]
    if method == "random":
        with torch.no_grad():
            logits = model(frames)
        noise = torch.rand((b, t, h, w), generator=generator)
        return Explanation(method, noise.to(logits.device), logits)
    if method == "gradcam":
        return _gradcam(model, frames, target)
    with torch.enable_grad():
        logits, record = recorded_forward(model, frames)
        sign = 1.0 if target == "fake" else -1.0
        temporal, spatial = (_attention_records(record, k) for k in ("temporal", "spatial"))
        if method == "lrp":
            maps = [r["A"] for r in temporal + spatial]
            grads = torch.autograd.grad((sign * logits).sum(), maps)
    logits = logits.detach()
    with torch.no_grad():
        if method == "raw_attention":
            t_mats, s_mats = [temporal[-1]["A"].mean(2)], [spatial[-1]["A"].mean(2)]
        elif method == "rollout":
            t_mats, s_mats = (
                [0.5 * r["A"].mean(2) + 0.5 * _eye_like(r["A"].mean(2)) for r in recs]
                for recs in (temporal, spatial)
            )
        else:
            propagate(model, record, target)
            mats = [
                lrp_matrix(r["R_A"], g, fusion, gradient)
                for r, g in zip(temporal + spatial, grads, strict=True)
            ]
            t_mats, s_mats = mats[: len(temporal)], mats[len(temporal) :]
        if readout == "grid":
            joint = grid_rollout(t_mats, s_mats, model.cfg.attention, h, w)
            return Explanation(method, joint.detach(), logits)
        t_rows, s_rows = rollout(t_mats), rollout(s_mats)
    t_map, s_map = read_maps(t_rows.detach(), s_rows.detach(), h, w)
    return Explanation(method, s_map * t_map, logits, spatial=s_map, temporal=t_map)


def _gradcam(model: ISTVT, frames: torch.Tensor, target: str) -> Explanation:
    """Grad-CAM (Selvaraju et al. 2017) on the entry-flow maps, one map per frame."""
    store: dict = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        store["feats"] = output

    handle = model.entry_flow.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(frames)
            ((1.0 if target == "fake" else -1.0) * logits).sum().backward()
    finally:
        handle.remove()
    feats, grad = store["feats"].detach(), store["feats"].grad
    model.zero_grad(set_to_none=True)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = (weights * feats).sum(1).clamp(min=0)  # (B*T, h, w)
    b, t = frames.shape[:2]
    return Explanation("gradcam", cam.view(b, t, *cam.shape[1:]), logits.detach())


def upsample(maps: torch.Tensor, size: int) -> torch.Tensor:
    """(B, T, h, w) token-grid maps -> (B, T, size, size), bilinear."""
    b, t = maps.shape[:2]
    up = F.interpolate(
        maps.reshape(b * t, 1, *maps.shape[2:]).float(),
        size=(size, size),
        mode="bilinear",
        align_corners=False,
    )
    return up.view(b, t, size, size)

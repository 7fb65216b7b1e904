"""Self-blended clips: a training augmentation that makes a fake out of a real clip.

A real face crop is blended with a transformed copy of itself (re-rendered at a lower
resolution, colour-shifted, slightly moved) through a soft elliptical mask over the
face or the mouth region, the same way on every frame up to a small per-frame jitter
of the mask (a tracker's wobble). The result carries the artefacts a face
manipulation leaves -- a blend boundary, a resolution and colour mismatch between the
face and its surroundings -- without any other identity, so a detector trained with it
learns those artefacts rather than who is in the picture. This is the idea of
Self-Blended Images (Shiohara & Yamasaki, CVPR 2022), done here per clip on the
device on the face crops the workflow already stores (no landmarks needed: the crop
is centred on the detected face).

It is a knob of the learning ladder (``benchmarks/stall_ladder.py``, rung option
``self_blend=p``: the probability that a real clip of a batch gets a self-blended copy,
labelled fake, added to the batch), not part of the paper's protocol nor of the
workflow's training recipe: on the FF++ demo it did not help (docs/demo.md, "Learning
ladder"), so it stays an experiment a user can repeat.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def self_blend(clips: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-blended copies of ``clips`` (B, T, 3, S, S) uint8 and their soft masks
    (B, T, 1, S, S) float in [0, 1]. Every random draw comes from ``gen`` (on the CPU),
    so the result depends on the generator's seed only, not on the device."""
    b, t, c, s, _ = clips.shape
    device = clips.device
    x = clips.flatten(0, 1).float()  # (B*T, 3, S, S)

    # the source: the same frames re-rendered at a lower resolution
    render = _uniform(b, 0.35, 0.85, gen)
    src = torch.empty_like(x)
    for i in range(b):
        small = max(4, round(s * float(render[i])))
        frames = x[i * t : (i + 1) * t]
        low = F.interpolate(frames, size=(small, small), mode="area")
        src[i * t : (i + 1) * t] = F.interpolate(
            low, size=(s, s), mode="bilinear", align_corners=False
        )
    # ... colour-shifted per channel ...
    gain = 1 + _uniform(b * c, -0.08, 0.08, gen).view(b, 1, c, 1, 1)
    bias = _uniform(b * c, -10, 10, gen).view(b, 1, c, 1, 1)
    src = (src.view(b, t, c, s, s) * gain.to(device) + bias.to(device)).flatten(0, 1)
    # ... and moved a little (scale and shift of the whole copy)
    scale = _uniform(b, 0.96, 1.04, gen)
    shift = _uniform(2 * b, -0.03, 0.03, gen).view(b, 2)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    theta = theta.repeat_interleave(t, dim=0).to(device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    src = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)

    # the mask: the face (an ellipse around the crop's centre) or, one time in three,
    # the mouth and chin only; soft edges; the centre wobbles a little per frame
    mouth = torch.rand(b, generator=gen) < 1 / 3
    cy = torch.where(mouth, _uniform(b, 0.64, 0.72, gen), _uniform(b, 0.47, 0.55, gen))
    cx = _uniform(b, 0.46, 0.54, gen)
    ax = torch.where(mouth, _uniform(b, 0.14, 0.22, gen), _uniform(b, 0.22, 0.36, gen))
    ay = torch.where(mouth, _uniform(b, 0.10, 0.18, gen), _uniform(b, 0.28, 0.42, gen))
    edge = _uniform(b, 0.03, 0.25, gen)  # softness, as a fraction of the radius
    wobble = _uniform(b, 0.0, 0.012, gen)
    cx = cx[:, None] + wobble[:, None] * torch.randn(b, t, generator=gen)
    cy = cy[:, None] + wobble[:, None] * torch.randn(b, t, generator=gen)
    strength = torch.where(torch.rand(b, generator=gen) < 0.25, _uniform(b, 0.5, 1.0, gen), 1.0)

    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    yy, xx = coords.view(1, 1, s, 1), coords.view(1, 1, 1, s)
    r = ((xx - cx[..., None, None]) / ax.view(b, 1, 1, 1)) ** 2 + (
        (yy - cy[..., None, None]) / ay.view(b, 1, 1, 1)
    ) ** 2
    mask = torch.sigmoid((1 - r.sqrt()) / edge.view(b, 1, 1, 1)) * strength.view(b, 1, 1, 1)
    mask = mask.unsqueeze(2).to(device)  # (B, T, 1, S, S)

    out = src.view(b, t, c, s, s) * mask + x.view(b, t, c, s, s) * (1 - mask)
    return out.round().clamp(0, 255).to(torch.uint8), mask


def add_self_blends(
    x: torch.Tensor, y: torch.Tensor, probability: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch (uint8 clips ``x``, labels ``y``) with a self-blended copy,
    labelled fake (1), appended for each real clip drawn with ``probability``."""
    if probability <= 0:  # draws nothing, so a run without blends is unchanged
        return x, y
    pick = (y == 0).cpu() & (torch.rand(len(y), generator=gen) < probability)
    if not bool(pick.any()):
        return x, y
    idx = pick.nonzero().squeeze(1).to(x.device)
    blended, _ = self_blend(x.index_select(0, idx), gen)
    fake = torch.ones(len(idx), dtype=y.dtype, device=y.device)
    return torch.cat([x, blended]), torch.cat([y, fake])

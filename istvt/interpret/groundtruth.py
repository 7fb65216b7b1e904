"""A case with a known answer: clips whose only cue is a patch in one frame.

A tiny ISTVT is trained on generated clips. Every clip is a random texture (blocks of
4 px, a new one per clip), still over the clip, with a little noise per frame. A fake
clip has, in one frame (drawn per clip), a high-contrast checkerboard patch covering
one cell of the model's token grid (drawn per clip); a real clip has none. So the
answer to "where and when is this clip fake?" is known for every held-out fake, and a
relevance map is scored on it:

* **frame**: the frame with the largest share of the map (its h×w total per frame) is
  the patch's frame;
* **patch**: inside the patch's frame, the map's largest token is the patch's cell;
* **token**: the largest of all T×h×w tokens is the patch's cell in the patch's frame.

The token grid comes from a **patch stem** by default (``stem="patch"``: ViT's
non-overlapping patch embedding, one 16-px cell per token), so that a token sees its
own cell only and *where* has one answer. The relevance rules under test act on the
token grid (the paper's maps end there and are upsampled to pixels), so the stem is
outside what they are tested on. With ISTVT's own Xception entry flow
(``stem="xception"``) every token's receptive field spans the 64-px frame, a trained
model reads the patch from every token of its frame, and only *when* has an answer.

Beside the maps it measures the model itself by **token occlusion**: a frame's tokens
(or one token of the patch frame) are replaced by those of the clip without its patch
and the fall of the fake logit recorded. The frame whose replacement removes most is
the model's own answer to "when", the token whose replacement removes most its answer
to "where"; ``largest_token_share`` is that token's fall over its frame's (about 100 %
with the patch stem, about 0 % with the Xception entry flow).

    python -m istvt.interpret.groundtruth        # train (seconds), print the table
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from istvt.config import ModelConfig
from istvt.interpret.relevance import explain
from istvt.model import ISTVT

log = logging.getLogger(__name__)

#: the tiny model: 64-px frames -> a 4x4 token grid, 4 frames, 2 blocks
MODEL = ModelConfig(
    sequence_length=4, num_layers=2, num_heads=2, dim_head=16, image_size=64, embed_dim=32
)


@dataclass
class Clips:
    """Normalised clips (N, T, 3, S, S), labels (1 = fake), and for every clip the
    patch's frame and token-grid cell (meaningful for fakes only)."""

    frames: torch.Tensor
    labels: torch.Tensor
    frame: torch.Tensor
    cell: torch.Tensor


def make_clips(n: int, cfg: ModelConfig = MODEL, seed: int = 0) -> Clips:
    """``n`` clips, fakes and reals alternating (fakes at odd indices)."""
    gen = torch.Generator().manual_seed(seed)
    t, size, grid = cfg.sequence_length, cfg.image_size, cfg.feature_size
    cell_px = size // grid
    blocks = torch.rand(n, 3, size // 4, size // 4, generator=gen)  # a still texture
    frames = F.interpolate(blocks, size=(size, size), mode="nearest")[:, None].repeat(1, t, 1, 1, 1)
    frames += 0.02 * torch.randn(n, t, 3, size, size, generator=gen)
    labels = (torch.arange(n) % 2).float()
    frame = torch.randint(0, t, (n,), generator=gen)
    cell = torch.randint(0, grid * grid, (n,), generator=gen)
    yy, xx = torch.meshgrid(torch.arange(cell_px), torch.arange(cell_px), indexing="ij")
    checker = 0.5 * (((yy // 2 + xx // 2) % 2).float() * 2 - 1)
    for i in torch.nonzero(labels).flatten().tolist():
        r, c = divmod(int(cell[i]), grid)
        rows, cols = slice(r * cell_px, (r + 1) * cell_px), slice(c * cell_px, (c + 1) * cell_px)
        frames[i, frame[i], :, rows, cols] += checker
    return Clips((frames - 0.5) / 0.5, labels, frame, cell)


#: token stems: ViT's patch embedding (local tokens), ISTVT's own Xception entry flow
STEMS = ("patch", "xception")


def build_model(cfg: ModelConfig = MODEL, stem: str = "patch") -> ISTVT:
    """A fresh tiny ISTVT whose token grid comes from ``stem`` (:data:`STEMS`)."""
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, not {stem!r}")
    model = ISTVT(cfg)
    if stem == "patch":
        cell = cfg.image_size // cfg.feature_size
        model.entry_flow = nn.Conv2d(3, cfg.embed_dim, cell, stride=cell)
        model.embed = nn.Identity()
    return model


def train_model(
    clips: Clips,
    cfg: ModelConfig = MODEL,
    epochs: int = 4,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    stem: str = "patch",
) -> ISTVT:
    """A fresh ISTVT (:func:`build_model`) trained on ``clips`` (AdamW, BCE), in eval
    mode."""
    torch.manual_seed(seed)
    model = build_model(cfg, stem)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(clips.labels), generator=gen)
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            loss = F.binary_cross_entropy_with_logits(model(clips.frames[idx]), clips.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        log.info("epoch %d: loss %.4f, %.0f s", epoch + 1, loss.item(), time.perf_counter() - t0)
    return model.eval()


def _hits(maps: torch.Tensor, frame: torch.Tensor, cell: torch.Tensor) -> dict[str, float]:
    """Frame, patch and token pointing rates (%) of (N, T, h, w) maps."""
    n, t = maps.shape[:2]
    flat = maps.reshape(n, t, -1)
    rows = torch.arange(n)
    top = flat.reshape(n, -1).argmax(1)
    cells = flat.shape[-1]
    return {
        "frame": (flat.sum(-1).argmax(1) == frame).float().mean().item() * 100,
        "patch": (flat[rows, frame].argmax(1) == cell).float().mean().item() * 100,
        "token": ((top // cells == frame) & (top % cells == cell)).float().mean().item() * 100,
    }


def token_occlusion(model: ISTVT, clips: Clips) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's own answer, by occlusion at its token grid: (N, T) falls of the fake
    logit when a whole frame's tokens, and (N, h*w) when one token of the patch frame,
    are replaced by those of the same clip without its patch (the patch frame replaced
    by its neighbour, the texture being still)."""
    n, t = clips.frames.shape[:2]
    rows = torch.arange(n)
    clean = clips.frames.clone()
    clean[rows, clips.frame] = clips.frames[rows, (clips.frame + 1) % t]

    def logit(tokens):
        for blk in model.blocks:
            tokens = blk(tokens)
        return model.head(model.head_norm(model.norm(tokens)[:, 0, 0])).squeeze(-1)

    with torch.no_grad():
        tokens, tokens_clean = model.tokens(clips.frames), model.tokens(clean)
        base = logit(tokens)
        frame_falls, token_falls = [], []
        for r in range(1, t + 1):
            swapped = tokens.clone()
            swapped[rows, r] = tokens_clean[rows, r]
            frame_falls.append(base - logit(swapped))
        for p in range(1, tokens.shape[2]):
            swapped = tokens.clone()
            swapped[rows, clips.frame + 1, p] = tokens_clean[rows, clips.frame + 1, p]
            token_falls.append(base - logit(swapped))
    return torch.stack(frame_falls, 1), torch.stack(token_falls, 1)


#: (row name, method, explain options): the paper's ISTVT-LRP, its variants, baselines
MAPS = [
    ("ISTVT-LRP", "lrp", {}),
    ("ISTVT-LRP, no gradient", "lrp", {"gradient": False}),
    ("ISTVT-LRP, mean_then_clamp", "lrp", {"fusion": "mean_then_clamp"}),
    ("attention rollout", "rollout", {}),
    ("raw attention", "raw_attention", {}),
    ("Grad-CAM", "gradcam", {}),
]


def measure(model: ISTVT, clips: Clips) -> pd.DataFrame:
    """Pointing rates (%) on the fake clips of every map (``paper``: Eq. 5's joint,
    spatial and temporal maps; ``grid``: the grid readout), and the model's own token
    occlusion as the reference row."""
    fake = clips.labels == 1
    frames, frame, cell = clips.frames[fake], clips.frame[fake], clips.cell[fake]
    rows = []
    for name, method, options in MAPS:
        e = explain(model, frames, method, **options)
        for part in ("joint", "spatial", "temporal"):
            maps = getattr(e, part)
            if maps is not None:
                rows.append({"map": name, "part": part, **_hits(maps, frame, cell)})
        if method != "gradcam":
            e = explain(model, frames, method, readout="grid", **options)
            rows.append({"map": name, "part": "grid", **_hits(e.joint, frame, cell)})
    frame_falls, token_falls = token_occlusion(
        model, Clips(frames, clips.labels[fake], frame, cell)
    )
    share = token_falls.amax(1) / frame_falls[torch.arange(len(frame)), frame]
    rows.append(
        {
            "map": "token occlusion",
            "part": "the model",
            "frame": (frame_falls.argmax(1) == frame).float().mean().item() * 100,
            "patch": (token_falls.argmax(1) == cell).float().mean().item() * 100,
            "token": np.nan,
            "largest_token_share": share.median().item() * 100,
        }
    )
    return pd.DataFrame(rows)


def accuracy(model: ISTVT, clips: Clips) -> float:
    with torch.no_grad():
        return ((model(clips.frames) > 0).float() == clips.labels).float().mean().item() * 100


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a documented command
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m istvt.interpret.groundtruth",
        description="Train a tiny ISTVT on clips with a known fake patch and frame, then "
        "print how often each relevance map points at them (held-out fakes).",
    )
    ap.add_argument("--clips", type=int, default=1024, help="training clips (default 1024)")
    ap.add_argument("--epochs", type=int, default=4, help="training epochs (default 4)")
    ap.add_argument(
        "--stem",
        choices=STEMS,
        default="patch",
        help="token stem: patch (local tokens, default) or xception (ISTVT's entry flow; "
        "try --clips 512 --epochs 2)",
    )
    ap.add_argument("--seed", type=int, default=0, help="data and training seed (default 0)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train = make_clips(args.clips, seed=args.seed)
    test = make_clips(128, seed=args.seed + 1)
    model = train_model(train, epochs=args.epochs, seed=args.seed, stem=args.stem)
    print(f"held-out accuracy {accuracy(model, test):.1f} %, {int(test.labels.sum())} fakes\n")
    print(measure(model, test).round(1).to_markdown(index=False))


if __name__ == "__main__":
    main()

"""Do the relevance maps point at what the model uses, and at the manipulation?

Three measures, for ISTVT-LRP and each baseline, over the clips of a test split:

* **deletion** (paper Fig. 12): the top-p % most relevant pixels of a clip (ranked over
  all its T×H×W pixels, maps upsampled bilinearly) are set to 0 in the normalised input
  (mid grey) and the clip is scored again; accuracy over all clips and the mean fake
  probability of the fake clips, for every p. A faithful map makes the fake score fall
  faster than random removal does;
* **localisation**, where the true manipulation mask of every fake frame is known (the
  embedded demo): the pointing-game hit rate (is the most relevant pixel of a frame
  inside its mask?) and the share of a frame's relevance mass inside its mask, beside
  the mask's share of the frame (what a uniform map would score); with random maps
  among the methods, each map's gain over them, paired by clip, and its one-sided
  Wilcoxon p-value (and for deletion: how much further a clip's score moves than when
  as many random pixels are deleted, paired by clip);
* **model randomisation** (Adebayo et al. 2018): the maps of the trained model against
  those of the same architecture re-initialised with random weights, as the Spearman
  rank correlation of their token maps per clip. A map that explains the model must
  change when the model's weights are destroyed: a correlation near 1 fails the check.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from istvt.data.dataset import ClipDataset
from istvt.data.demo import load_mask
from istvt.data.faces import crop_mask
from istvt.inference import Scorer
from istvt.interpret.relevance import check_supported, explain, upsample
from istvt.interpret.settings import MAPS, FaithfulnessConfig, label, variant_name
from istvt.model import ISTVT

log = logging.getLogger(__name__)


def delete_top(frames: torch.Tensor, maps: torch.Tensor, percent: float) -> torch.Tensor:
    """Set the ``percent`` % most relevant pixels of every clip to 0 (mid grey).

    frames: (B, T, 3, H, W) normalised; maps: (B, T, H, W) at the input size.
    """
    b = frames.shape[0]
    flat = maps.reshape(b, -1)
    k = int(round(percent / 100.0 * flat.shape[1]))
    keep = torch.ones_like(flat, dtype=torch.bool)
    if k:
        keep.scatter_(1, flat.topk(k, dim=1).indices, False)
    return frames * keep.view(b, maps.shape[1], 1, *maps.shape[2:])


def mask_measures(maps: np.ndarray, masks: np.ndarray) -> list[tuple[bool, float, float]]:
    """(hit, mass inside, mask area share) per frame with a non-empty mask.

    maps: (T, H, W) non-negative, masks: (T, H, W) bool. A frame whose map is all zero
    says nothing: it misses and counts as uniform (mass = area).
    """
    out = []
    for m, k in zip(maps, masks, strict=True):
        if not k.any():
            continue
        area = float(k.mean())
        total = float(m.sum())
        if total <= 0:
            out.append((False, area, area))
            continue
        hit = bool(k.flat[int(np.argmax(m))])
        out.append((hit, float(m[k].sum()) / total, area))
    return out


def clip_masks(
    dataset: ClipDataset, k: int, video_path: str | Path, root: str | Path, size: int
) -> np.ndarray | None:
    """(T, size, size) true manipulation masks of clip ``k`` in crop coordinates, or None
    when the video has no mask file or the shard no crop geometry."""
    boxes = dataset.boxes(k)
    if boxes is None:
        return None
    try:
        masks = load_mask(Path(root).resolve(), Path(video_path).resolve())
    except (FileNotFoundError, ValueError):
        return None
    start = int(dataset.starts[k])
    frames = masks[start : start + len(boxes)]
    if len(frames) < len(boxes):
        return None
    return np.stack([crop_mask(f, b, size) for f, b in zip(frames, boxes, strict=True)])


def masks_missing(mask_root, video_paths, dataset, chosen, labels) -> str:
    """The error of a data set with masks where no fake clip found its mask."""
    fake = dataset.video_ids[int(chosen[int(np.flatnonzero(labels == 1)[0])])]
    return (
        f"no true mask found under {mask_root} for any of the {int(labels.sum())} fake "
        f"clips measured (e.g. {video_paths[fake]}): the manifest's video paths must lie "
        "in the mask root. A run folder that was copied or moved keeps the old absolute "
        "paths in results/manifests; rebuild them there (snakemake --forcerun manifest)"
    )


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two maps; NaN when either is constant (e.g. an all-zero
    Grad-CAM map), where it is undefined."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))  # average ranks for ties


def _scores(model: ISTVT, frames: torch.Tensor) -> np.ndarray:
    """fp32 scores: the relevance maps are computed in fp32 on the same model."""
    return Scorer(model, frames.device, "fp32").probabilities(frames)


def _maps(model, frames, method, cfg, generator) -> dict[str, torch.Tensor]:
    e = explain(
        model,
        frames,
        method,
        cfg.target,
        cfg.fusion,
        generator=generator,
        readout=cfg.readout,
        gradient=cfg.gradient,
    )
    parts = {"joint": e.joint, "spatial": e.spatial, "temporal": e.temporal}
    out = {
        name: parts[part]
        for name, (m, part) in MAPS.items()
        if m == method and parts.get(part) is not None
    }
    if method == "lrp":
        base = {"fusion": cfg.fusion, "readout": cfg.readout, "gradient": cfg.gradient}
        for v in cfg.variants:
            e = explain(model, frames, "lrp", cfg.target, generator=generator, **{**base, **v})
            out[variant_name(v)] = e.joint
    return out


def measure(
    model: ISTVT,
    dataset: ClipDataset,
    cfg: FaithfulnessConfig,
    video_paths: dict[str, str] | None = None,
    mask_root: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deletion, localisation and randomisation measures over the clips of ``dataset``.

    Returns (summary: one row per map, deletion: one row per map and fraction).
    Localisation columns are NaN without ``mask_root`` (data without masks).
    """
    for method in cfg.methods:
        check_supported(model, method)
    model.eval()
    size = model.cfg.image_size
    n = len(dataset) if cfg.max_clips is None else min(cfg.max_clips, len(dataset))
    if n == 0:
        raise ValueError("no clips to measure: the split is empty")
    # a cap takes clips evenly spaced over the split (its videos are in manifest order,
    # often reals then fakes), so both classes and many videos stay represented
    chosen = np.linspace(0, len(dataset) - 1, n).round().astype(int)
    torch.manual_seed(cfg.seed)
    random_model = ISTVT(model.cfg).eval()  # same architecture, fresh random weights
    gen = torch.Generator().manual_seed(cfg.seed)
    gen_random_model = torch.Generator().manual_seed(cfg.seed)
    names = [name for name, (m, _) in MAPS.items() if m in cfg.methods]
    if "lrp" in cfg.methods:
        names[names.index("lrp_temporal") + 1 : 0] = [variant_name(v) for v in cfg.variants]
    produced: set[str] = set()
    fractions = [0.0, *cfg.fractions]
    scores = {name: np.zeros((n, len(fractions))) for name in names}
    loc: dict[str, list] = {name: [] for name in names}
    rho: dict[str, list] = {name: [] for name in names}
    labels = dataset.labels[chosen]
    found_masks = 0
    t0 = time.perf_counter()
    for lo in range(0, n, cfg.batch_size):
        idx = list(range(lo, min(lo + cfg.batch_size, n)))  # positions among the chosen
        frames = torch.stack([dataset[int(chosen[i])][0] for i in idx])
        base = _scores(model, frames)
        masks = [None] * len(idx)
        if mask_root is not None and video_paths is not None:
            masks = [
                clip_masks(dataset, k, video_paths[dataset.video_ids[k]], mask_root, size)
                if labels[i] == 1
                else None
                for i, k in zip(idx, chosen[idx].tolist(), strict=True)
            ]
            found_masks += sum(m is not None for m in masks)
            if lo + len(idx) >= n and labels.sum() and not found_masks:
                raise ValueError(masks_missing(mask_root, video_paths, dataset, chosen, labels))
        for method in cfg.methods:
            maps = _maps(model, frames, method, cfg, gen)
            other = _maps(random_model, frames, method, cfg, gen_random_model)
            produced.update(maps)
            for name, grid in maps.items():
                up = upsample(grid, size)
                scores[name][idx, 0] = base
                for j, p in enumerate(cfg.fractions, 1):
                    scores[name][idx, j] = _scores(model, delete_top(frames, up, p))
                for i, mask in enumerate(masks):
                    if mask is not None:
                        frames_of_clip = mask_measures(up[i].numpy(), mask)
                        loc[name].extend((idx[i], *m) for m in frames_of_clip)
                if name != "random":
                    ours, theirs = grid.flatten(1).numpy(), other[name].flatten(1).numpy()
                    pairs = zip(ours, theirs, strict=True)
                    rho[name].extend(rank_correlation(a, b) for a, b in pairs)
        done = idx[-1] + 1
        rate = (time.perf_counter() - t0) / done
        eta = rate * (n - done)
        log.info("faithfulness: %d/%d clips, %.2f s/clip, ETA %.0f s", done, n, rate, eta)
    made = [name for name in names if name in produced]  # e.g. no spatial map on the grid
    return _tables(made, fractions, scores, loc, rho, labels)


def paired_gain(ours: pd.DataFrame, baseline: pd.DataFrame, column: str) -> tuple[float, float]:
    """(mean gain in points, one-sided p) of ``column`` over ``baseline``, paired by clip.

    Both tables hold one row per (clip, frame); frames of a clip are averaged first (they
    are not independent). The p-value is the Wilcoxon signed-rank test that the clip
    differences are centred above zero (NaN with fewer than 5 clips or no difference).
    """
    a = ours.groupby("clip")[column].mean()
    b = baseline.groupby("clip")[column].mean()
    return gain_above_zero((a - b.reindex(a.index)).dropna() * 100)


def gain_above_zero(diff) -> tuple[float, float]:
    """(mean, one-sided Wilcoxon signed-rank p that the paired differences ``diff`` are
    centred above zero); p is NaN with fewer than 5 pairs or no difference at all."""
    from scipy.stats import wilcoxon

    diff = np.asarray(diff, dtype=float)
    mean = float(diff.mean()) if len(diff) else np.nan
    if len(diff) < 5 or not diff.any():
        return mean, np.nan
    return mean, float(wilcoxon(diff, alternative="greater").pvalue)


def _tables(names, fractions, scores, loc, rho, labels):
    fake = labels == 1
    frames = {
        name: pd.DataFrame(loc[name], columns=["clip", "hit", "mass", "area"], dtype=float)
        for name in names
    }
    summary, deletion = [], []
    for name in names:
        s = scores[name]
        acc = ((s > 0.5) == (labels[:, None] == 1)).mean(0) * 100
        row = {"map": name, "label": label(name), "clips": len(labels)}
        f = frames[name]
        row["mask_frames"] = len(f)
        row["pointing_game"] = f.hit.mean() * 100 if len(f) else np.nan
        row["mask_mass"] = f.mass.mean() * 100 if len(f) else np.nan
        row["mask_area"] = f.area.mean() * 100 if len(f) else np.nan
        # against the random maps of the same clips: gain in points and its p-value
        for column, key in (("hit", "pointing"), ("mass", "mass")):
            gain, p = np.nan, np.nan
            if name != "random" and "random" in frames and len(f):
                gain, p = paired_gain(f, frames["random"], column)
            row[f"{key}_gain"], row[f"{key}_p"] = gain, p
        # deletion against random pixels of the same clips: how much further a clip's
        # score moves (either way: grey pixels can look fake to a model) when the map's
        # top pixels are deleted than when as many random ones are, mean over fractions
        gain, p = np.nan, np.nan
        if name != "random" and "random" in scores and len(labels) >= 5:
            moved = np.abs(s[:, 1:] - s[:, :1]).mean(1)
            moved_random = np.abs(scores["random"][:, 1:] - scores["random"][:, :1]).mean(1)
            gain, p = gain_above_zero((moved - moved_random) * 100)
        row["deletion_gain"], row["deletion_p"] = gain, p
        valid = [r for r in rho[name] if np.isfinite(r)]
        row["randomised_spearman"] = float(np.mean(valid)) if valid else np.nan
        for j, p in enumerate(fractions):
            fake_score = s[fake, j].mean() * 100 if fake.any() else np.nan
            real_score = s[~fake, j].mean() * 100 if (~fake).any() else np.nan
            deletion.append(
                {
                    "map": name,
                    "percent": p,
                    "accuracy": acc[j],
                    "fake_score": fake_score,
                    "real_score": real_score,
                }
            )
            if p:
                row[f"acc@{p:g}%"] = acc[j]
                row[f"fake@{p:g}%"] = fake_score
        row["fake@0%"] = s[fake, 0].mean() * 100 if fake.any() else np.nan
        summary.append(row)
    return pd.DataFrame(summary), pd.DataFrame(deletion)

"""Relevance maps and their faithfulness for one trained model on its test split."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from istvt.checkpoint import load_checkpoint
from istvt.data.dataset import split_dataset
from istvt.fsutil import atomic_path
from istvt.interpret.faithfulness import FaithfulnessConfig, label, measure
from istvt.interpret.relevance import explain, upsample

log = logging.getLogger(__name__)


def heatmap_clips(dataset, count: int) -> list[int]:
    """Indices of the first clip of up to ``count`` videos, fakes and reals alternating
    (fakes first), in shard order: a fixed, label-balanced choice that does not look at
    any score."""
    first: dict[str, int] = {}
    for k, vid in enumerate(dataset.video_ids):
        first.setdefault(vid, k)
    fakes = [k for k in first.values() if dataset.labels[k] == 1]
    reals = [k for k in first.values() if dataset.labels[k] == 0]
    order = [k for pair in zip(fakes, reals, strict=False) for k in pair]
    order += fakes[len(reals) :] + reals[len(fakes) :]
    return order[:count]


def write_heatmaps(
    model,
    dataset,
    clips: Iterable[int],
    out_dir: str | Path,
    target: str = "fake",
    fusion: str = "clamp_then_mean",
    gradient: bool = True,
) -> list[Path]:
    """One Fig. 9-style figure (``<video id>.png``, '/' -> '__') per clip index: the
    paper's spatial and temporal maps (Eq. 5's readout, which has both) with the
    configured head fusion and gradient factor."""
    from istvt.report.figures import relevance_figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    size = model.cfg.image_size
    for k in clips:
        frames, label, _ = dataset[k]
        e = explain(model, frames[None], "lrp", target, fusion, gradient=gradient)
        vid = dataset.video_ids[k]
        p = float(torch.sigmoid(e.logits[0]))
        path = out_dir / f"{vid.replace('/', '__')}.png"
        relevance_figure(
            dataset.raw_clip(k),
            upsample(e.spatial, size)[0].numpy(),
            upsample(e.temporal, size)[0].numpy(),
            path,
            title=f"{vid} ({'fake' if label else 'real'}): p(fake) {p:.3f}, "
            f"relevance for the {target} class",
            start=int(dataset.starts[k]),
        )
        paths.append(path)
    return paths


def _colour(heat: np.ndarray, vmax: float) -> np.ndarray:
    """(H, W) map -> (H, W, 3) uint8 RGB jet colours, scaled by ``vmax``."""
    import cv2

    scaled = np.clip(heat / vmax, 0, 1) if vmax > 0 else np.zeros_like(heat)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return bgr[..., ::-1]


def overlay_frames(frames: np.ndarray, spatial: np.ndarray, temporal: np.ndarray) -> np.ndarray:
    """(T, S, S, 3) frames + (T, S, S) maps -> (T, S, 3S, 3) uint8: the face, the spatial
    overlay (scaled per frame) and the temporal overlay (scaled over the clip)."""
    out = []
    t_max = float(temporal.max())
    for f, s, t in zip(frames, spatial, temporal, strict=True):
        blend_s = 0.55 * f + 0.45 * _colour(s, float(s.max()))
        blend_t = 0.55 * f + 0.45 * _colour(t, t_max)
        out.append(np.concatenate([f, blend_s, blend_t], axis=1).astype(np.uint8))
    return np.stack(out)


def write_overlay_video(panels: list[np.ndarray], path: str | Path, fps: int = 5) -> Path:
    """The overlay panels of consecutive clips as an H.264 video (each frame 3x
    enlarged, nearest neighbour, so the token grid stays visible)."""
    from istvt.data.demo import write_video

    frames = np.concatenate(panels).repeat(3, axis=1).repeat(3, axis=2)
    write_video(Path(path), frames, fps=fps, crf=18)
    return Path(path)


BASELINES = ("rollout", "raw_attention", "gradcam")


def comparison(summary: pd.DataFrame) -> str:
    """A sentence per measure: the paper's ISTVT-LRP map against the best baseline and the
    best ISTVT-LRP variant measured beside it (empty when a side is missing)."""
    rows = summary.set_index("map")
    base = rows[rows.index.isin(BASELINES)]
    ours = rows[rows.index.str.startswith("lrp[")]
    if "lrp" not in rows.index or base.empty:
        return ""
    out = []
    for column, what in (("pointing_game", "pointing game %"), ("deletion_gain", "deletion")):
        if not np.isfinite(rows.loc["lrp", column]) or base[column].isna().all():
            continue
        best = base[column].idxmax()
        text = (
            f"{what}: ISTVT-LRP {rows.loc['lrp', column]:.1f}, the best baseline "
            f"({label(best)}) {base.loc[best, column]:.1f}"
        )
        if not ours.empty and not ours[column].isna().all():
            top = ours[column].idxmax()
            text += f", the best variant ({label(top)}) {ours.loc[top, column]:.1f}"
        out.append(text)
    if not out:
        return ""
    return (
        "\n" + "; ".join(out) + ". istvt's propagation rules reproduce the maps of Chefer et "
        "al.'s reference code (tests/test_lrp_reference.py), so where ISTVT-LRP trails a "
        "baseline that is the method on this model, not an implementation difference "
        "(docs/interpretability.md).\n"
    )


def table_markdown(summary: pd.DataFrame, fractions: Iterable[float]) -> str:
    """The faithfulness table as Markdown, one row per map."""
    cols = ["pointing_game", "pointing_gain", "mask_mass", "mass_gain", "deletion_gain"]
    cols.append("randomised_spearman")
    head = ["map", "pointing game %", "vs random", "mass in mask %", "vs random"]
    head += ["deletion vs random", "randomised ρ"]
    for p in fractions:
        cols.append(f"acc@{p:g}%")
        head.append(f"acc −{p:g}%")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary.to_dict(orient="records"):
        cells = [label(row["map"])]
        for c in cols:
            v = row.get(c)
            if v is None or not np.isfinite(v):
                cells.append("–")
            elif c == "randomised_spearman":
                cells.append(f"{v:.2f}")
            elif c.endswith("_gain"):
                p = row.get(c.replace("_gain", "_p"))
                cells.append(
                    f"{v:+.1f}" + (f" (p={p:.2g})" if p is not None and np.isfinite(p) else "")
                )
            else:
                cells.append(f"{v:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    area = summary["mask_area"].dropna()
    note = comparison(summary)
    if len(area):
        note += (
            f"\nMask share of a fake frame (a uniform map's mass in mask): {area.iloc[0]:.1f} %; "
            f"{int(summary['mask_frames'].iloc[0])} fake frames with a mask, "
            f'{int(summary["clips"].iloc[0])} clips. "vs random": gain in points over the '
            "random maps of the same clips, with the one-sided Wilcoxon signed-rank p-value "
            "over clips.\n"
        )
    note += (
        '\n"deletion vs random": how many points further a clip\'s score moves (either way) '
        "when the map's top pixels are deleted instead of as many random ones (mean over "
        "the fractions and clips; p: the same test).\n"
    )
    return "\n".join(lines) + "\n" + note


def interpret_experiment(
    checkpoint: str | Path,
    manifest: pd.DataFrame,
    faces_dir: str | Path,
    cfg: FaithfulnessConfig,
    out_dir: str | Path,
    deletion_png: str | Path,
    heatmaps: int = 4,
    methods: Iterable[str] | None = None,
    mask_root: str | Path | None = None,
    provenance: dict | None = None,
) -> pd.DataFrame:
    """Faithfulness tables, deletion curves and heatmap figures of one model.

    Writes ``faithfulness.csv`` / ``.md`` / ``.json`` (with provenance),
    ``deletion.csv`` and ``heatmaps/*.png`` under ``out_dir`` and the deletion figure.
    """
    from istvt.model.flops import paper_results
    from istvt.report.figures import deletion_figure

    model = load_checkpoint(checkpoint, map_location="cpu").eval()
    dataset, rows = split_dataset(manifest, faces_dir, "test", methods)
    if len(dataset) == 0:
        raise ValueError(f"{faces_dir}: the test split has no clips to explain")
    paths = dict(zip(rows.video_id, rows.path, strict=True))
    log.info("%s: measuring %s on %d test clips", checkpoint, cfg.methods, len(dataset))
    summary, deletion = measure(model, dataset, cfg, paths, mask_root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "faithfulness.csv") as tmp:
        summary.to_csv(tmp, index=False)
    with atomic_path(out_dir / "deletion.csv") as tmp:
        deletion.to_csv(tmp, index=False)
    with atomic_path(out_dir / "faithfulness.md") as tmp:
        tmp.write_text(table_markdown(summary, cfg.fractions))
    record = {
        "checkpoint": str(checkpoint),
        "config": vars(cfg),
        "masks": str(mask_root) if mask_root else None,
        "summary": summary.replace({np.nan: None}).to_dict(orient="records"),
        "provenance": provenance or {},
    }
    with atomic_path(out_dir / "faithfulness.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    deletion_figure(
        deletion,
        deletion_png,
        paper=paper_results().get("fig12_deletion_accuracy"),
        title=f"deletion of the most relevant pixels: {Path(checkpoint).parent.name}",
    )
    clips = heatmap_clips(dataset, heatmaps)
    write_heatmaps(
        model, dataset, clips, out_dir / "heatmaps", cfg.target, cfg.fusion, cfg.gradient
    )
    return summary

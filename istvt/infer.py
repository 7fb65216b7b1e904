"""Scoring videos with a trained model: faces aligned as in training, score = mean of
the clips' fake probabilities."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from istvt.data.dataset import to_tensor
from istvt.data.manifest.common import VIDEO_SUFFIXES
from istvt.data.preprocess import PreprocessOptions, process_video
from istvt.inference import Scorer, prepare
from istvt.model import ISTVT

COLUMNS = ["video", "status", "score", "label", "clips", "clip_scores", "detail"]


def options_for(model: ISTVT, base: PreprocessOptions | None = None) -> PreprocessOptions:
    """Preprocessing options matching the model's clip length and input size."""
    base = base or PreprocessOptions()
    return replace(
        base,
        sequence_length=model.cfg.sequence_length,
        faces=replace(base.faces, image_size=model.cfg.image_size),
    )


@torch.no_grad()
def infer_video(
    model: ISTVT,
    path: str | Path,
    options: PreprocessOptions,
    threshold: float = 0.5,
    figure: str | Path | None = None,
    relevance: str | Path | None = None,
    overlay: str | Path | None = None,
    target: str = "fake",
    scorer: Scorer | None = None,
) -> dict:
    """Score one video. A video without usable clips gets its status and no score.

    ``scorer`` (:func:`istvt.inference.prepare`) sets the precision path of the scores
    (default fp32); the relevance maps are always computed in fp32 on ``model``.

    With ``figure``, also write a picture of the aligned clips with their scores; with
    ``relevance``, the ISTVT-LRP heatmaps (for class ``target``) of the clip with the
    highest fake probability in the paper's Fig. 9 layout; with ``overlay``, an H.264
    video of every clip's frames beside their spatial and temporal relevance overlays.
    """
    try:
        status, clips = process_video(str(path), options)
    except Exception as exc:  # one bad video must not end a folder run
        status, clips = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}, []
    row = {
        "video": str(path),
        "status": status["status"],
        "score": np.nan,
        "label": "",
        "clips": len(clips),
        "clip_scores": "",
        "detail": status.get("detail", ""),
    }
    if clips:
        scorer = scorer or prepare(model, "fp32", "cpu")
        x = torch.stack([to_tensor(c.frames) for _, c in clips])
        scores = scorer.probabilities(x)
        row["score"] = float(scores.mean())
        row["label"] = "fake" if row["score"] > threshold else "real"
        row["clip_scores"] = " ".join(f"{s:.4f}" for s in scores)
        if figure:
            from istvt.report.figures import clips_figure

            clips_figure(
                [c.frames for _, c in clips],
                [start for start, _ in clips],
                scores,
                figure,
                title=f"{Path(path).name}: fake probability {row['score']:.3f}",
            )
        if relevance or overlay:
            _explain_clips(model, x, clips, scores, path, relevance, overlay, target)
    return row


def _explain_clips(model, x, clips, scores, path, relevance, overlay, target) -> None:
    from istvt.interpret.experiment import overlay_frames, write_overlay_video
    from istvt.interpret.relevance import explain, upsample
    from istvt.report.figures import relevance_figure

    e = explain(model, x, "lrp", target)
    size = model.cfg.image_size
    spatial, temporal = upsample(e.spatial, size).numpy(), upsample(e.temporal, size).numpy()
    if relevance:
        k = int(np.argmax(scores))
        start, clip = clips[k]
        relevance_figure(
            clip.frames,
            spatial[k],
            temporal[k],
            relevance,
            title=f"{Path(path).name}, clip at frame {start}: p(fake) {scores[k]:.3f}; "
            f"relevance for the {target} class",
            start=start,
        )
    if overlay:
        panels = [
            overlay_frames(c.frames, s, t)
            for (_, c), s, t in zip(clips, spatial, temporal, strict=True)
        ]
        write_overlay_video(panels, overlay)


def infer_folder(
    model: ISTVT,
    folder: str | Path,
    options: PreprocessOptions,
    out_csv: str | Path,
    scorer: Scorer | None = None,
) -> pd.DataFrame:
    """Score every video below ``folder``; broken or face-less ones are listed with
    their reason, never dropped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: video folder not found")
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
    )
    if not paths:
        raise FileNotFoundError(f"{folder}: no videos ({', '.join(VIDEO_SUFFIXES)}) found")
    scorer = scorer or prepare(model, "fp32", "cpu")
    rows = [infer_video(model, p, options, scorer=scorer) for p in paths]
    table = pd.DataFrame(rows, columns=COLUMNS)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    return table

"""Evaluation: a trained model on one test set -> per-video predictions and metrics.

Every video of the test split appears exactly once in the predictions table: scored
videos with their score (mean of the clip scores), the others with the preprocessing
status that kept them out. Metrics are computed on the scored videos and say how many
were left out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from istvt.checkpoint import load_checkpoint
from istvt.data.dataset import ClipDataset, split_dataset
from istvt.fsutil import atomic_path
from istvt.inference import Scorer, predict, prepare
from istvt.metrics import bootstrap_ci, point_metrics
from istvt.provenance import provenance as make_provenance

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "video_id",
    "label",
    "method",
    "status",
    "clips",
    "score",
    "clip_scores",
]


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions CSV written by :func:`evaluate`."""
    return pd.read_csv(path, dtype={"video_id": str, "method": str, "clip_scores": str})


def predictions_table(
    rows: pd.DataFrame, dataset: ClipDataset, scores: np.ndarray, status: pd.DataFrame
) -> pd.DataFrame:
    """One row per video of ``rows``: its score, or its preprocessing status."""
    clips = pd.DataFrame({"video_id": dataset.video_ids, "start": dataset.starts, "score": scores})
    per_video = {
        vid: g.sort_values("start")["score"].to_numpy() for vid, g in clips.groupby("video_id")
    }
    reasons = status.set_index("video_id")["status"].to_dict() if len(status) else {}
    out = []
    for r in rows.itertuples(index=False):
        s = per_video.get(r.video_id)
        out.append(
            {
                "video_id": r.video_id,
                "label": int(r.label),
                "method": r.method,
                "status": "ok" if s is not None else reasons.get(r.video_id, "missing"),
                "clips": 0 if s is None else len(s),
                "score": float(s.mean()) if s is not None else np.nan,
                "clip_scores": "" if s is None else " ".join(f"{v:.5f}" for v in s),
            }
        )
    return pd.DataFrame(out, columns=PREDICTION_COLUMNS)


def metrics_of(predictions: pd.DataFrame, bootstrap: int = 1000, seed: int = 0) -> dict:
    """Video- and clip-level ACC/AUC/EER/AP of a predictions table, video-level CIs."""
    scored = predictions[predictions.status == "ok"]
    video = point_metrics(scored.label.to_numpy(), scored.score.to_numpy())
    ci = bootstrap_ci(scored.label.to_numpy(), scored.score.to_numpy(), n=bootstrap, seed=seed)
    clip_labels, clip_scores = [], []
    for r in scored.itertuples(index=False):
        values = [float(v) for v in r.clip_scores.split()]
        clip_scores += values
        clip_labels += [r.label] * len(values)
    clip = point_metrics(np.array(clip_labels), np.array(clip_scores))
    return {
        "videos": int(len(predictions)),
        "scored": int(len(scored)),
        "unscored": {
            k: int(v)
            for k, v in predictions[predictions.status != "ok"].groupby("status").size().items()
        },
        "real": int((scored.label == 0).sum()),
        "fake": int((scored.label == 1).sum()),
        "video": video,
        "video_ci95": ci,
        "clip": clip,
        "clips": len(clip_scores),
    }


def evaluate(
    checkpoint: str | Path,
    manifest: pd.DataFrame,
    faces_dir: str | Path,
    out_predictions: str | Path,
    out_metrics: str | Path,
    methods: Iterable[str] | None = None,
    split: str = "test",
    batch_size: int = 16,
    bootstrap: int = 1000,
    seed: int = 0,
    device: str | None = None,
    provenance: dict | None = None,
    extra: dict | None = None,
    perturbation: tuple[str, float] | None = None,
    precision: str = "hardware",
) -> dict:
    """Score the ``split`` of a preprocessed data set and write predictions + metrics.

    ``perturbation`` = (name, level) applies a clip-level robustness perturbation
    (:mod:`istvt.perturb`) to every test clip, seeded by ``seed`` and the clip.
    ``precision``: hardware, fp32, bf16, fp16, int8 or auto (:mod:`istvt.inference`); the metrics
    record the path taken (``precision``) and the one asked for.
    """
    level = (perturbation, out_predictions, out_metrics, extra)
    options = dict(methods=methods, split=split, batch_size=batch_size, bootstrap=bootstrap)
    options.update(seed=seed, device=device, provenance=provenance, precision=precision)
    return _evaluate_levels(checkpoint, manifest, faces_dir, [level], **options)[0]


def evaluate_perturbations(
    checkpoint: str | Path,
    manifest: pd.DataFrame,
    faces_dir: str | Path,
    levels: list[tuple[str, float, str | Path, str | Path]],
    methods: Iterable[str] | None = None,
    split: str = "test",
    batch_size: int = 16,
    bootstrap: int = 1000,
    seed: int = 0,
    device: str | None = None,
    provenance: dict | None = None,
    extra: dict | None = None,
    precision: str = "hardware",
) -> list[dict]:
    """:func:`evaluate` under each clip-level perturbation of ``levels`` = [(name, level,
    out_predictions, out_metrics), ...], with the model loaded once: one process scores
    a model's whole robustness grid (one per level cost a Python and torch start-up
    each), and the split read once. Each metrics file records its ``perturbation``."""
    runs = [
        ((name, float(level)), out_predictions, out_metrics, extra)
        for name, level, out_predictions, out_metrics in levels
    ]
    options = dict(methods=methods, split=split, batch_size=batch_size, bootstrap=bootstrap)
    options.update(seed=seed, device=device, provenance=provenance, precision=precision)
    return _evaluate_levels(checkpoint, manifest, faces_dir, runs, **options)


def _evaluate_levels(
    checkpoint: str | Path,
    manifest: pd.DataFrame,
    faces_dir: str | Path,
    runs: list[tuple[tuple[str, float] | None, str | Path, str | Path, dict | None]],
    *,
    methods,
    split: str,
    batch_size: int,
    bootstrap: int,
    seed: int,
    device: str | None,
    provenance: dict | None,
    precision: str,
) -> list[dict]:
    """Load the model and read the split once, then score it under each (perturbation
    or None, out_predictions, out_metrics, extra) of ``runs``."""
    import time

    from istvt.perturb import check

    for perturbation, *_ in runs:
        if perturbation is not None:
            check(*perturbation)  # every level valid before any work
    scorer = _load(checkpoint, device, precision, batch_size)
    dataset, rows = split_dataset(manifest, faces_dir, split, methods)
    if rows.empty:
        raise ValueError(f"the {split} split has no videos (methods={methods})")
    status_path = Path(faces_dir) / "status.csv"
    status = pd.read_csv(status_path) if status_path.is_file() else pd.DataFrame()
    common = {
        "checkpoint": str(checkpoint),
        "split": split,
        "precision": scorer.precision,  # the path taken
        "precision_requested": precision,
        "methods": list(methods) if methods else None,
    }
    out, t0 = [], time.perf_counter()
    for k, (perturbation, out_predictions, out_metrics, extra) in enumerate(runs, 1):
        dataset.transform = _transform(perturbation, seed)
        log.info("%s: scoring %d clips of %d videos", checkpoint, len(dataset), len(rows))
        scores = predict(scorer, dataset, batch_size) if len(dataset) else np.zeros(0)
        table = predictions_table(rows, dataset, scores, status)
        metrics = {**metrics_of(table, bootstrap, seed), **common}
        metrics["perturbation"] = (
            {"name": perturbation[0], "level": perturbation[1]} if perturbation else None
        )
        metrics.update(extra or {})
        metrics["provenance"] = provenance or make_provenance()
        with atomic_path(out_predictions) as tmp:
            table.to_csv(tmp, index=False)
        with atomic_path(out_metrics) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2, default=_jsonable) + "\n")
        out.append(metrics)
        if len(runs) > 1:
            rate = (time.perf_counter() - t0) / k
            log.info(
                "%s %g: video AUC %.3f | %d/%d levels, %.1f s/level, ETA %.0f s",
                *perturbation,
                metrics["video"]["auc"],
                k,
                len(runs),
                rate,
                rate * (len(runs) - k),
            )
    return out


def _transform(perturbation: tuple[str, float] | None, seed: int):
    """The clip transform of a clip-level perturbation, seeded by ``seed`` and the clip."""
    if perturbation is None:
        return None
    from istvt.perturb import perturb_clip

    name, level = perturbation

    def transform(clip, key):
        return perturb_clip(clip, name, level, seed, key)

    return transform


def _load(checkpoint: str | Path, device: str | None, precision: str, batch_size: int) -> Scorer:
    """The checkpoint's model along the ``precision`` path (auto: measured, see
    :mod:`istvt.inference`)."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_checkpoint(checkpoint, map_location=device)
    scorer = prepare(model, precision, device, batch_size)
    log.info("%s: precision %s -> %s on %s", checkpoint, precision, scorer.precision, device)
    return scorer


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

"""Video-level detection metrics with bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

METRICS = ("acc", "auc", "eer", "ap")


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """Equal error rate: where the false-positive and false-negative rates meet."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def point_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    """ACC at ``threshold``, AUC, EER, AP (NaN where only one class is present)."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    out = {
        "acc": float(((scores > threshold).astype(int) == labels).mean())
        if len(labels)
        else float("nan")
    }
    if len(np.unique(labels)) == 2:
        out["auc"] = float(roc_auc_score(labels, scores))
        out["eer"] = eer(labels, scores)
        out["ap"] = float(average_precision_score(labels, scores))
    else:
        out.update(auc=float("nan"), eer=float("nan"), ap=float("nan"))
    return out


def bootstrap_ci(
    labels: np.ndarray, scores: np.ndarray, n: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Percentile bootstrap intervals of every metric, resampling videos."""
    rng = np.random.default_rng(seed)
    labels, scores = np.asarray(labels), np.asarray(scores)
    draws = {m: [] for m in METRICS}
    for _ in range(n):
        idx = rng.integers(0, len(labels), len(labels))
        for m, v in point_metrics(labels[idx], scores[idx]).items():
            draws[m].append(v)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    out = {}
    for m, values in draws.items():
        values = np.asarray(values, dtype=float)
        values = values[~np.isnan(values)]
        out[f"{m}_lo"] = float(np.quantile(values, lo)) if len(values) else float("nan")
        out[f"{m}_hi"] = float(np.quantile(values, hi)) if len(values) else float("nan")
    return out


def video_scores(clips: pd.DataFrame) -> pd.DataFrame:
    """Clip predictions (video_id, label, score) -> one row per video, score = mean."""
    return (
        clips.groupby("video_id", sort=True)
        .agg(label=("label", "first"), score=("score", "mean"), clips=("score", "size"))
        .reset_index()
    )

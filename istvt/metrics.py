"""Video-level detection metrics with bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("acc", "auc", "eer", "ap")


def curve_metrics(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    """AUC, EER and AP of labels (0/1, both present) and scores, in plain numpy.

    One threshold per distinct score, as scikit-learn's ``roc_auc_score`` and
    ``average_precision_score`` (the tests check equality); no per-call input checks,
    since the bootstrap calls this a thousand times per table cell.
    """
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each threshold
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    pos, neg = tps[-1], fps[-1]
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    auc = float(np.trapezoid(tpr, fpr))
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    precision = tps / (tps + fps)
    ap = float(np.sum(np.diff(np.r_[0.0, tps / pos]) * precision))
    return auc, float((fpr[i] + fnr[i]) / 2), ap


def auc_per_method(labels, scores, methods) -> dict[str, float]:
    """AUC of each fake method's items against all real items (label 0)."""
    from sklearn.metrics import roc_auc_score

    labels, scores, methods = np.asarray(labels), np.asarray(scores), np.asarray(methods)
    real = labels == 0
    return {
        str(m): float(roc_auc_score(labels[real | (methods == m)], scores[real | (methods == m)]))
        for m in sorted(set(methods[~real]))
    }


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """Equal error rate: where the false-positive and false-negative rates meet
    (over every threshold of the ROC curve)."""
    return curve_metrics(np.asarray(labels).astype(int), np.asarray(scores, dtype=float))[1]


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
        out["auc"], out["eer"], out["ap"] = curve_metrics(labels, scores)
    else:
        out.update(auc=float("nan"), eer=float("nan"), ap=float("nan"))
    return out


def bootstrap_ci(
    labels: np.ndarray, scores: np.ndarray, n: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Percentile bootstrap intervals of every metric, resampling videos.

    A resample with one class only has no AUC / EER / AP and is left out of those
    metrics' intervals.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    draws = {m: np.full(n, np.nan) for m in METRICS}
    if len(labels):
        for k in range(n):
            idx = rng.integers(0, len(labels), len(labels))
            y, s = labels[idx], scores[idx]
            draws["acc"][k] = ((s > 0.5).astype(int) == y).mean()
            if 0 < y.sum() < len(y):
                draws["auc"][k], draws["eer"][k], draws["ap"][k] = curve_metrics(y, s)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    out = {}
    for m, values in draws.items():
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

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


# ---------------------------------------------------------------- paired ROC comparison
def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, ties sharing their mean rank."""
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def delong(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of several scorers of the same items and the covariance of their estimates
    (DeLong, DeLong & Clarke-Pearson 1988, in the midrank form of Sun & Xu 2014).

    ``labels``: 0/1 per item, both present; ``scores``: (scorers, items). Returns
    (aucs of shape (scorers,), covariance of shape (scorers, scorers)). Ties count one
    half, as in the Mann-Whitney statistic and scikit-learn's ``roc_auc_score``.
    """
    labels = np.asarray(labels)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    if scores.shape[-1] != labels.shape[0]:
        raise ValueError(f"scores of shape {scores.shape} do not match {labels.shape[0]} labels")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    pos, neg = scores[:, labels == 1], scores[:, labels == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m == 0 or n == 0:
        raise ValueError("DeLong's test needs both classes among the items")
    ranks_all = _midranks(np.concatenate([pos, neg], axis=1))
    # placement values: the share of negatives below each positive, and of positives
    # above each negative (ties one half)
    v10 = (ranks_all[:, :m] - _midranks(pos)) / n
    v01 = 1.0 - (ranks_all[:, m:] - _midranks(neg)) / m
    aucs = v10.mean(axis=1)
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(aucs), len(aucs)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(aucs), len(aucs)))
    return aucs, s10 / m + s01 / n


def paired_auc_test(labels, scores_a, scores_b, level: float = 0.95) -> dict:
    """DeLong's test of two models' AUCs on the same items.

    ``scores_a`` / ``scores_b``: one row per training seed of each model (or a single
    row). The contrast is the mean AUC over A's seeds minus the mean over B's, and its
    variance comes from the covariance of all rows' AUC estimates on the same items, so
    a pooled comparison over seeds accounts for every seed scoring the same videos.
    Returns the two mean AUCs, their difference with a ``level`` normal interval, the z
    statistic and the two-sided p-value. Where the difference has no variance (two
    identical scorers, or a perfect one against a constant) the interval is the point,
    and p is 1 for no difference and 0 otherwise. The interval is cut to [-1, 1], the
    range of a difference of AUCs.
    """
    from scipy.stats import norm

    a = np.atleast_2d(np.asarray(scores_a, dtype=float))
    b = np.atleast_2d(np.asarray(scores_b, dtype=float))
    aucs, cov = delong(labels, np.vstack([a, b]))
    contrast = np.r_[np.full(len(a), 1 / len(a)), np.full(len(b), -1 / len(b))]
    diff = float(contrast @ aucs)
    var = float(max(contrast @ cov @ contrast, 0.0))
    se = var**0.5
    if se <= 1e-12 * max(1.0, abs(diff)):
        z = 0.0 if abs(diff) <= 1e-12 else float(np.sign(diff) * np.inf)
        p = 1.0 if z == 0.0 else 0.0
        lo = hi = diff
    else:
        z = diff / se
        p = float(2 * norm.sf(abs(z)))
        half = float(norm.ppf(0.5 + level / 2)) * se
        lo, hi = max(diff - half, -1.0), min(diff + half, 1.0)  # an AUC difference
    return {
        "auc_a": float(aucs[: len(a)].mean()),
        "auc_b": float(aucs[len(a) :].mean()),
        "diff": diff,
        "diff_lo": float(lo),
        "diff_hi": float(hi),
        "z": float(z),
        "p": p,
        "items": int(len(np.asarray(labels))),
    }

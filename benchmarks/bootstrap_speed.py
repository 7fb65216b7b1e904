"""Bootstrap intervals: our numpy metrics vs the same resamples through scikit-learn.

python benchmarks/bootstrap_speed.py [--videos 50] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from istvt.metrics import bootstrap_ci


def sklearn_bootstrap(labels: np.ndarray, scores: np.ndarray, n: int) -> None:
    rng = np.random.default_rng(0)
    for _ in range(n):
        idx = rng.integers(0, len(labels), len(labels))
        y, s = labels[idx], scores[idx]
        if 0 < y.sum() < len(y):
            roc_auc_score(y, s), roc_curve(y, s), average_precision_score(y, s)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--videos", type=int, default=50)
    p.add_argument("--resamples", type=int, default=1000)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, args.videos), rng.random(args.videos)
    t0 = time.perf_counter()
    sklearn_bootstrap(labels, scores, args.resamples)
    baseline = time.perf_counter() - t0
    t0 = time.perf_counter()
    bootstrap_ci(labels, scores, n=args.resamples)
    ours = time.perf_counter() - t0
    print(
        f"{args.resamples} resamples of {args.videos} videos: scikit-learn {baseline:.2f} s, "
        f"istvt.metrics {ours:.2f} s, {baseline / ours:.0f}x faster"
    )


if __name__ == "__main__":
    main()

"""Are a demo data set's fakes separable by simple cues? A logistic regression on each
clip's per-cell colour means (LAB) and Laplacian energy over the model's 4x4 token grid,
fitted on the train split and scored on the val split (clip AUC), from a finished run.

    python benchmarks/cue_probe.py RUN_DIR dfdc_demo [ffpp_demo celebdf_demo]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from istvt.data.dataset import split_dataset
from istvt.data.manifest import read_manifest


def features(run: Path, dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    manifest = read_manifest(run / "results/manifests" / f"{dataset}.csv")
    clips, _ = split_dataset(manifest, run / "results/faces" / dataset, split, normalize=False)
    x, y = [], []
    for k in range(len(clips)):
        clip = np.asarray(clips[k][0]).transpose(0, 2, 3, 1)  # (T, H, W, 3) uint8
        s = clip.shape[1] // 4
        per_frame = []
        for frame in clip[::2]:
            lab = cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
            cells = lab[: 4 * s, : 4 * s].reshape(4, s, 4, s, 3).mean((1, 3)).ravel()
            lap = np.abs(cv2.Laplacian(lab[..., 0], cv2.CV_32F))[: 4 * s, : 4 * s]
            per_frame.append(np.concatenate([cells, lap.reshape(4, s, 4, s).mean((1, 3)).ravel()]))
        x.append(np.mean(per_frame, 0))
        y.append(clips.labels[k])
    return np.array(x), np.array(y)


def main(run: str, *datasets: str) -> int:
    for dataset in datasets:
        xtr, ytr = features(Path(run), dataset, "train")
        xva, yva = features(Path(run), dataset, "val")
        scaler = StandardScaler().fit(xtr)
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(xtr), ytr)
        auc = roc_auc_score(yva, clf.predict_proba(scaler.transform(xva))[:, 1])
        print(f"{dataset}: val clip AUC {auc:.3f} ({len(ytr)} train, {len(yva)} val clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

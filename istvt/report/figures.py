"""Figures: ROC curves per experiment, training curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from istvt.fsutil import atomic_path  # noqa: E402


def _save(fig, path: str | Path) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format=path.suffix.lstrip("."))
    plt.close(fig)


def roc_figure(experiment: str, predictions: Mapping[str, pd.DataFrame], out: str | Path) -> None:
    """Video-level ROC curves of one trained model on each of its test sets."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--")
    for testset, df in predictions.items():
        scored = df[df.status == "ok"]
        if scored.label.nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(scored.label, scored.score)
        auc = roc_auc_score(scored.label, scored.score)
        ax.plot(fpr, tpr, lw=1.8, label=f"{testset}: AUC {100 * auc:.1f} % (n={len(scored)})")
    ax.set(
        xlabel="false-positive rate (real called fake)",
        ylabel="true-positive rate (fake called fake)",
        title=f"ROC, video level: {experiment}",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, out)


def training_figure(logs: Mapping[str, pd.DataFrame], out: str | Path) -> None:
    """Training loss, validation loss and validation video AUC / accuracy per epoch."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for experiment, log in logs.items():
        (line,) = axes[0].plot(log.epoch, log.train_loss, label=f"{experiment} train")
        axes[0].plot(
            log.epoch, log.val_loss, ls="--", color=line.get_color(), label=f"{experiment} val"
        )
        axes[1].plot(log.epoch, 100 * log.val_video_auc, color=line.get_color(), label=experiment)
        axes[2].plot(log.epoch, 100 * log.val_video_acc, color=line.get_color(), label=experiment)
        best = log[log.selected == 1].epoch.max()
        for ax in axes[1:]:
            ax.axvline(best, color=line.get_color(), lw=0.8, ls=":")
    axes[0].set(xlabel="epoch", ylabel="BCE loss", title="loss (dashed: validation)")
    axes[1].set(xlabel="epoch", ylabel="%", title="validation video AUC")
    axes[2].set(xlabel="epoch", ylabel="%", title="validation video accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7, title="dotted: selected epoch", title_fontsize=7)
    fig.tight_layout()
    _save(fig, out)


def clips_figure(clips: list, starts: list[int], scores, out: str | Path, title: str = "") -> None:
    """The aligned face frames the model saw, one row per clip, with the clip's score."""
    rows, cols = len(clips), len(clips[0])
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.6 * rows), squeeze=False)
    for r, (frames, start, score) in enumerate(zip(clips, starts, scores, strict=True)):
        for t in range(cols):
            ax = axes[r][t]
            ax.imshow(frames[t])
            ax.set_xticks([])
            ax.set_yticks([])
            if t == 0:
                ax.set_ylabel(f"frame {start}\np(fake) {score:.3f}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, out)

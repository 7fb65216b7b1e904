"""Figures: ROC curves per experiment, training curves, clips, relevance heatmaps,
deletion curves."""

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


def training_figure(
    logs: Mapping[str, pd.DataFrame], out: str | Path, title: str = "", columns: int = 4
) -> None:
    """One small panel per experiment: training and validation loss (left axis),
    validation video AUC and accuracy (right axis, %), the selected epoch dotted."""
    import math

    n = max(1, len(logs))
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 2.5 * rows), squeeze=False)
    handles = []
    for ax, (experiment, log) in zip(axes.flat, logs.items(), strict=False):  # spare panels
        right = ax.twinx()
        lines = [
            ax.plot(log.epoch, log.train_loss, color="C0", label="train loss")[0],
            ax.plot(log.epoch, log.val_loss, color="C0", ls="--", label="val loss")[0],
            right.plot(log.epoch, 100 * log.val_video_auc, color="C3", label="val video AUC")[0],
            right.plot(
                log.epoch, 100 * log.val_video_acc, color="C2", ls="--", label="val video ACC"
            )[0],
        ]
        best = log[log.selected == 1].epoch.max()
        lines.append(ax.axvline(best, color="grey", ls=":", lw=1, label="selected epoch"))
        handles = handles or lines
        right.set_ylim(-3, 103)
        ax.set_title(experiment, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        right.tick_params(labelsize=7, colors="C3")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("BCE loss", fontsize=8)
    for ax in axes.flat[:n]:
        ax.set_xlabel("epoch", fontsize=7, labelpad=1)
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if rows > 1 else 0.1, 1, 1))
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


def _overlay(ax, frame, heat, vmax: float) -> None:
    ax.imshow(frame)
    ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    ax.set_xticks([])
    ax.set_yticks([])


def relevance_figure(
    frames,
    spatial,
    temporal,
    out: str | Path,
    title: str = "",
    start: int | None = None,
) -> None:
    """One clip in the layout of the paper's Fig. 9: the frames, the spatial relevance
    over them, the temporal relevance over them, and a bar of each frame's share of
    the temporal relevance.

    frames: (T, H, W, 3) uint8; spatial / temporal: (T, H, W) maps at the frame size
    (either may be None). The spatial row is scaled per frame (where, within a frame),
    the temporal row by its maximum over the clip (which frames).
    """
    import numpy as np

    rows = [("frames", None)] + [
        (name, m) for name, m in (("spatial", spatial), ("temporal", temporal)) if m is not None
    ]
    t = len(frames)
    heights = [1.0] * len(rows) + ([0.7] if temporal is not None else [])
    fig, axes = plt.subplots(
        len(heights),
        t,
        figsize=(1.45 * t, 1.5 * sum(heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    names = [f"frame {start + i}" if start is not None else f"t = {i + 1}" for i in range(t)]
    for r, (name, maps) in enumerate(rows):
        for i in range(t):
            ax = axes[r][i]
            if maps is None:
                ax.imshow(frames[i])
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(names[i], fontsize=7)
            else:  # spatial: where within each frame; temporal: comparable across frames
                vmax = float(np.max(maps[i] if name == "spatial" else maps))
                _overlay(ax, frames[i], maps[i], vmax)
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
    if temporal is not None:
        share = np.asarray(temporal).reshape(t, -1).sum(1)
        share = share / share.sum() * 100 if share.sum() > 0 else share
        gs = axes[-1][0].get_gridspec()
        for ax in axes[-1]:
            ax.remove()
        bar = fig.add_subplot(gs[-1, :])
        bar.bar(range(t), share, color="tab:red")
        bar.set_xticks(range(t), names, fontsize=7)
        bar.set(ylabel="% temporal\nrelevance", xlim=(-0.5, t - 0.5))
        bar.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, out)


#: the default colour cycle without its grey (C7), which marks the random maps
NOT_GREY = [f"C{k}" for k in (0, 1, 2, 3, 4, 5, 6, 8, 9)]


def deletion_figure(
    deletion: pd.DataFrame, out: str | Path, paper: Mapping | None = None, title: str = ""
) -> None:
    """Accuracy and mean fake probability against the share of most-relevant pixels
    removed, one line per map (the paper's Fig. 12); the paper's approximate readings
    as markers where given."""
    from istvt.interpret.faithfulness import label

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (name, rows) in enumerate(deletion.groupby("map", sort=False)):
        style = {"color": NOT_GREY[i % len(NOT_GREY)], "marker": "o", "ms": 3}
        if name == "random":
            style.update(color="grey", ls="--")
        elif not name.startswith("lrp"):
            style.update(ls=":")  # the baselines dotted, ISTVT-LRP's maps solid
        axes[0].plot(rows.percent, rows.accuracy, label=label(name), **style)
        axes[1].plot(rows.percent, rows.fake_score, label=label(name), **style)
        if paper and name in paper:
            pts = sorted((float(k), float(v)) for k, v in paper[name].items())
            axes[0].scatter(
                *zip(*pts, strict=True), marker="*", s=90, color=style["color"], zorder=3
            )
    axes[0].set(xlabel="% most relevant pixels removed", ylabel="accuracy % (all clips)")
    axes[1].set(xlabel="% most relevant pixels removed", ylabel="mean p(fake) % (fake clips)")
    for ax in axes:
        ax.grid(alpha=0.3)
    legend_title = "★: paper, Fig. 12 (FF++)" if paper else None
    axes[0].legend(fontsize=7, title=legend_title, title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, out)


def _middle_frame(path: Path):
    """The middle frame of a video as RGB (decoded with PyAV)."""
    from istvt.data.video import open_video, to_rgb

    with open_video(path) as container:
        frames = [to_rgb(f) for f in container.decode(video=0)]
    if not frames:
        raise ValueError(f"{path}: no decodable frame for the demo contact sheet")
    return frames[len(frames) // 2]


def demo_pairs(root: str | Path) -> list[tuple[str, Path, Path]]:
    """(method, real video, one of its fakes) per demo data set and method, from the
    demo folders present under ``root`` (resources/demo)."""
    import json

    root = Path(root)
    pairs = []
    ffpp = root / "ffpp/manipulated_sequences"
    if ffpp.is_dir():
        for method in sorted(p.name for p in ffpp.iterdir()):
            fake = sorted((ffpp / method / "c23/videos").glob("*.mp4"))[0]
            real = root / f"ffpp/original_sequences/youtube/c23/videos/{fake.stem[:3]}.mp4"
            pairs.append((f"FF++ {method}", real, fake))
    celeb = root / "celebdf/Celeb-synthesis"
    if celeb.is_dir():
        fake = sorted(celeb.glob("*.mp4"))[0]
        real = root / "celebdf/Celeb-real" / f"{fake.stem.split('_')[0]}_0000.mp4"
        pairs.append(("Celeb-DF synthesis", real, fake))
    meta = root / "dfdc/dfdc_train_part_0/metadata.json"
    if meta.is_file():
        entries = json.loads(meta.read_text())
        fake = sorted(k for k, v in entries.items() if v["label"] == "FAKE")[0]
        folder = meta.parent
        pairs.append(("DFDC", folder / entries[fake]["original"], folder / fake))
    return pairs


def demo_contact_sheet(root: str | Path, out: str | Path, columns: int = 8) -> None:
    """Every demo identity once (its Celeb-DF-layout real video, the one layout that
    films all of them; the FF++ originals without it), then one fake of each method
    beside its real: what the demo data sets look like, before anything is trained."""

    root = Path(root)
    people = sorted(
        (root / "celebdf/Celeb-real").glob("id*_0000.mp4"), key=lambda p: int(p.stem[2:-5])
    ) or sorted((root / "ffpp/original_sequences/youtube/c23/videos").glob("*.mp4"))
    pairs = demo_pairs(root)
    if not people and not pairs:
        raise FileNotFoundError(f"{root}: no demo data set (ffpp, celebdf, dfdc) to show")
    rows_people = -(-len(people) // columns)
    rows_pairs = -(-2 * len(pairs) // columns)
    height = 1.55 * (rows_people + rows_pairs)
    fig, axes = plt.subplots(
        rows_people + rows_pairs, columns, figsize=(1.4 * columns, height), squeeze=False
    )
    # room for the title in inches, not a share of the height (64 people: 8 rows)
    fig.subplots_adjust(top=1 - 0.5 / height, bottom=0.2 / height, hspace=0.45)
    for ax in axes.ravel():
        ax.axis("off")
    for k, path in enumerate(people):
        ax = axes[k // columns, k % columns]
        ax.imshow(_middle_frame(path))
        ax.set_title(path.stem.split("_")[0], fontsize=7)
    for k, (method, real, fake) in enumerate(pairs):
        for j, (kind, path) in enumerate((("real", real), (method, fake))):
            cell = 2 * k + j
            ax = axes[rows_people + cell // columns, cell % columns]
            ax.imshow(_middle_frame(path))
            ax.set_title(f"{kind}\n{path.stem[:12]}", fontsize=6)
    fig.suptitle(
        f"Demo data: {len(people)} identities, then one fake per method beside its real",
        fontsize=9,
        y=1 - 0.15 / height,
    )
    _save(fig, out)

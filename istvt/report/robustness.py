"""Robustness results: one row per perturbation and level, beside the clean score and
the paper's ISTVT curve (Fig. 6, Celeb-DF) where it has one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from istvt.model.flops import paper_results
from istvt.perturb import LEVELS

PAPER_CURVES = {"jpeg": "jpeg_quality", "downscale": "downscale", "dropout": "dropout_regions"}


def paper_accuracy(name: str, level: float) -> float:
    """The paper's ISTVT accuracy at this perturbation level, or NaN."""
    curve = paper_results().get("robustness_celebdf_accuracy", {}).get(PAPER_CURVES.get(name), {})
    for key, value in curve.items():
        if np.isclose(float(key), level):
            return float(value)
    return float("nan")


def _pct(value) -> float:
    return float("nan") if value is None else float(value) * 100


def robustness_table(clean: dict, perturbed: Iterable[dict]) -> pd.DataFrame:
    """Metrics JSONs (clean + one per perturbation level) -> a tidy table, perturbations
    in the order of :data:`istvt.perturb.LEVELS`, mildest level first."""
    rows = [
        {
            "perturbation": "none",
            "level": np.nan,
            "acc": _pct(clean["video"]["acc"]),
            "auc": _pct(clean["video"]["auc"]),
            "videos": clean["videos"],
            "scored": clean["scored"],
            "paper_acc": np.nan,
        }
    ]
    for m in perturbed:
        p = m.get("perturbation") or {}
        if not p:
            raise ValueError(f"{m.get('checkpoint')}: metrics without a perturbation")
        rows.append(
            {
                "perturbation": p["name"],
                "level": float(p["level"]),
                "acc": _pct(m["video"]["acc"]),
                "auc": _pct(m["video"]["auc"]),
                "videos": m["videos"],
                "scored": m["scored"],
                "paper_acc": paper_accuracy(p["name"], float(p["level"])),
            }
        )
    table = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(["none", *LEVELS])}

    def severity(row) -> float:
        if row.perturbation == "none":
            return 0.0
        levels = LEVELS[row.perturbation]
        increasing = levels[-1] > levels[0]
        return row.level if increasing else -row.level

    table["_p"] = table.perturbation.map(order)
    table["_s"] = table.apply(severity, axis=1)
    return table.sort_values(["_p", "_s"]).drop(columns=["_p", "_s"]).reset_index(drop=True)


def table_markdown(table: pd.DataFrame, experiment: str) -> str:
    """The robustness table as Markdown, the paper's accuracy beside ours (over training
    seeds: mean ± sd, from :func:`istvt.report.seeds.over_seeds`'s columns)."""
    from istvt.report.seeds import spread_text

    seeds = [c.rsplit("_seed", 1)[1] for c in table.columns if c.startswith("acc_seed")]
    lines = [f"### Robustness: {experiment}", ""]
    if len(seeds) > 1:
        lines += [f"Ours: mean ± sd over {len(seeds)} training seeds.", ""]
    lines += [
        "| perturbation | level | video ACC % | video AUC % | paper ISTVT ACC % | scored |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        level = "–" if np.isnan(r["level"]) else f"{r['level']:g}"
        paper = "–" if np.isnan(r["paper_acc"]) else f"{r['paper_acc']:.1f}"
        acc, auc = (
            spread_text([r[f"{k}_seed{s}"] for s in seeds] or [r[k]]) for k in ("acc", "auc")
        )
        lines.append(
            f"| {r['perturbation']} | {level} | {acc} | {auc.replace('n/a', '–')} | {paper} | "
            f"{r['scored']}/{r['videos']} |"
        )
    return "\n".join(lines) + "\n"


def robustness_figure(table: pd.DataFrame, out: str | Path, title: str = "") -> None:
    """Accuracy and AUC against level, one panel per perturbation, the clean score as
    a dotted line and the paper's ISTVT accuracy as stars."""
    import matplotlib.pyplot as plt

    from istvt.report.figures import _save

    names = [n for n in dict.fromkeys(table.perturbation) if n != "none"]
    if not names:
        raise ValueError("no perturbed results to draw")
    clean = table[table.perturbation == "none"].iloc[0]
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        part = table[table.perturbation == name]
        x = np.arange(len(part))
        ax.plot(x, part.acc, "o-", color="C0", label="ours ACC")
        ax.plot(x, part.auc, "s--", color="C1", label="ours AUC")
        for col, color in (("acc", "C0"), ("auc", "C1")):  # ± sd over training seeds
            if f"{col}_sd" in part and np.isfinite(part[f"{col}_sd"]).any():
                mid, sd = part[col].to_numpy(), part[f"{col}_sd"].fillna(0).to_numpy()
                ax.fill_between(x, mid - sd, mid + sd, color=color, alpha=0.15, lw=0)
        ax.axhline(clean.acc, color="C0", ls=":", lw=1, label="clean ACC")
        paper = part.paper_acc.to_numpy()
        if np.isfinite(paper).any():
            ax.plot(x, paper, "*", color="k", ms=9, label="paper ISTVT ACC")
        ax.set_xticks(x, [f"{v:g}" for v in part.level])
        ax.set(title=name, ylim=(0, 102), xlabel="level (mild → strong)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.remove()
    axes[0][0].set_ylabel("%")
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, out)

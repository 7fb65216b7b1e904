"""Tables in the layout of the paper's Tables I and II, with the paper's figures beside
ours, and the full experiment x test-set matrix.

A table cell is addressed as ``experiment/testset`` or ``experiment/testset/method``;
the method form scores the real videos plus the fakes of that method, so one model
trained on all FF++ methods can fill the per-method cells of Table I.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

from istvt.evaluate import metrics_of
from istvt.model.flops import paper_results
from istvt.report.cells import (
    CROSS_TESTS,
    FFPP_METHODS,
    FFPP_SETTINGS,
    OTHER_DATASETS,
    TABLE2_CELLS,
    parse_cell,
)


def of_method(predictions: pd.DataFrame, method: str) -> pd.DataFrame:
    """The real videos and the fakes of one method: the set a per-method cell scores."""
    return predictions[(predictions.label == 0) | (predictions.method == method)]


def cell_metrics(
    address: str, load: Callable[[str, str], pd.DataFrame], bootstrap: int = 1000
) -> dict:
    """Metrics of one table cell from its experiment x test set predictions."""
    experiment, testset, method = parse_cell(address)
    predictions = load(experiment, testset)
    if method:
        if method not in set(predictions.method):
            raise ValueError(f"table cell {address!r}: no {method} videos in {testset}")
        predictions = of_method(predictions, method)
    return metrics_of(predictions, bootstrap)


def _pct(value: float) -> float:
    return round(100 * value, 1) if value == value else math.nan


def _ours(m: dict | None, metric: str) -> str:
    if m is None:
        return "–"
    v, lo, hi = (
        m["video"][metric],
        m["video_ci95"][f"{metric}_lo"],
        m["video_ci95"][f"{metric}_hi"],
    )
    if v != v:
        return "n/a"
    return f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def _row(key: str, label: str, address: str | None, m: dict | None, metric: str, paper) -> dict:
    return {
        "cell": key,
        "label": label,
        "source": address or "",
        "videos": m["scored"] if m else 0,
        f"ours_{metric}": _pct(m["video"][metric]) if m else math.nan,
        "ci95_lo": _pct(m["video_ci95"][f"{metric}_lo"]) if m else math.nan,
        "ci95_hi": _pct(m["video_ci95"][f"{metric}_hi"]) if m else math.nan,
        f"paper_{metric}": paper,
        "_text": _ours(m, metric),
    }


def table1(
    spec: Mapping[str, str], load: Callable[[str, str], pd.DataFrame], bootstrap: int = 1000
) -> tuple[pd.DataFrame, str]:
    """Table I (video-level accuracy %, in-dataset) -> (CSV table, Markdown)."""
    paper = paper_results()["table1_accuracy"]
    unknown = (
        set(spec) - {f"{s}/{m}" for s in FFPP_SETTINGS for m in FFPP_METHODS} - set(OTHER_DATASETS)
    )
    if unknown:
        raise ValueError(f"report.table1: unknown cells {sorted(unknown)}")
    rows = []
    for setting, label in FFPP_SETTINGS.items():
        for method in FFPP_METHODS:
            key = f"{setting}/{method}"
            m = cell_metrics(spec[key], load, bootstrap) if key in spec else None
            rows.append(
                _row(key, f"{label} {method}", spec.get(key), m, "acc", paper[setting][method])
            )
    for key, label in OTHER_DATASETS.items():
        m = cell_metrics(spec[key], load, bootstrap) if key in spec else None
        rows.append(_row(key, label, spec.get(key), m, "acc", paper[key]))
    df = pd.DataFrame(rows)
    text = {r["cell"]: r["_text"] for r in rows}
    md = [
        "Table I: video-level accuracy %, trained and tested on the same data.",
        "Ours: value [bootstrap 95 % interval]; paper: ISTVT as published. "
        "– = not configured in this run.",
        "",
        "| setting | " + " | ".join(f"{m} (ours) | {m} (paper)" for m in FFPP_METHODS) + " |",
        "|---|" + "---|---|" * len(FFPP_METHODS),
    ]
    for setting, label in FFPP_SETTINGS.items():
        cells = [f"{text[f'{setting}/{m}']} | {paper[setting][m]:.1f}" for m in FFPP_METHODS]
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md += ["", "| data set | ours | paper |", "|---|---|---|"]
    for key, label in OTHER_DATASETS.items():
        md.append(f"| {label} | {text[key]} | {paper[key]:.1f} |")
    md += ["", _sources(rows)]
    return df.drop(columns="_text"), "\n".join(md) + "\n"


def table2(
    spec: Mapping[str, str], load: Callable[[str, str], pd.DataFrame], bootstrap: int = 1000
) -> tuple[pd.DataFrame, str]:
    """Table II (cross-dataset video AUC %, trained on FF++) -> (CSV table, Markdown)."""
    paper = paper_results()["table2_cross_auc"]
    unknown = set(spec) - set(TABLE2_CELLS)
    if unknown:
        raise ValueError(f"report.table2: unknown cells {sorted(unknown)}")
    rows = []
    for key, label in CROSS_TESTS.items():
        m = cell_metrics(spec[key], load, bootstrap) if key in spec else None
        rows.append(_row(key, label, spec.get(key), m, "auc", paper[key]))
    df = pd.DataFrame(rows)
    ours = df["ours_auc"].dropna()
    md = [
        "Table II: cross-dataset video-level AUC %, trained on FF++.",
        "Ours: value [bootstrap 95 % interval]; paper: ISTVT as published. "
        "– = not configured in this run.",
        "",
        "| test set | ours | paper |",
        "|---|---|---|",
    ]
    md += [f"| {r['label']} | {r['_text']} | {r['paper_auc']:.1f} |" for r in rows]
    mean_ours = f"{ours.mean():.1f} (over {len(ours)} of {len(rows)})" if len(ours) else "–"
    md.append(f"| mean | {mean_ours} | {paper['mean']:.1f} |")
    md += ["", _sources(rows)]
    return df.drop(columns="_text"), "\n".join(md) + "\n"


def _sources(rows: list[dict]) -> str:
    used = [f"{r['label']} = {r['source']} ({r['videos']} videos)" for r in rows if r["source"]]
    return "Sources (experiment/test set[/method]): " + "; ".join(used) + "."


METRIC_COLUMNS = ("acc", "auc", "eer", "ap")


def results_matrix(
    metrics: Mapping[tuple[str, str], dict], train_sets: Mapping[str, str]
) -> pd.DataFrame:
    """Every experiment x test set: video-level metrics with intervals, clip-level ACC/AUC."""
    rows = []
    for (experiment, testset), m in sorted(metrics.items()):
        row = {
            "experiment": experiment,
            "testset": testset,
            "kind": "in-dataset" if train_sets.get(experiment) == m.get("dataset") else "cross",
            "videos": m["videos"],
            "scored": m["scored"],
        }
        for k in METRIC_COLUMNS:
            row[f"video_{k}"] = m["video"][k]
            row[f"video_{k}_lo"] = m["video_ci95"][f"{k}_lo"]
            row[f"video_{k}_hi"] = m["video_ci95"][f"{k}_hi"]
        row["clip_acc"], row["clip_auc"] = m["clip"]["acc"], m["clip"]["auc"]
        rows.append(row)
    return pd.DataFrame(rows)


def matrix_markdown(df: pd.DataFrame) -> str:
    """The results matrix as Markdown (percentages, intervals in brackets)."""
    lines = [
        "All experiments x test sets, video level (score = mean of clip scores); "
        "95 % bootstrap intervals over videos.",
        "",
        "| experiment | test set | kind | videos | ACC % | AUC % | EER % | AP % | clip AUC % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in df.itertuples(index=False):
        cells = []
        for k in METRIC_COLUMNS:
            v, lo, hi = (
                getattr(r, f"video_{k}"),
                getattr(r, f"video_{k}_lo"),
                getattr(r, f"video_{k}_hi"),
            )
            cells.append("n/a" if v != v else f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]")
        clip = "n/a" if r.clip_auc != r.clip_auc else f"{100 * r.clip_auc:.1f}"
        lines.append(
            f"| {r.experiment} | {r.testset} | {r.kind} | {r.scored}/{r.videos} | "
            + " | ".join(cells)
            + f" | {clip} |"
        )
    return "\n".join(lines) + "\n"


def with_kinds(predictions: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """The predictions with each fake's ``method`` replaced by the kind its data set
    records for it (the DFDC demo's ``kinds.csv``: DFDC's layout names no method)."""
    if not kinds:
        return predictions
    out = predictions.copy()
    fake = out["label"] == 1
    out.loc[fake, "method"] = out.loc[fake, "video_id"].map(kinds).fillna(out.loc[fake, "method"])
    return out


def per_method(
    evaluations: list[tuple[str, str]],
    load: Callable[[str, str], pd.DataFrame],
    kinds: Mapping[str, Mapping[str, str]] | None = None,
    bootstrap: int = 1000,
) -> tuple[pd.DataFrame, str]:
    """Which fakes each model finds: for every experiment x test set whose scored fakes
    come from two or more methods, the video AUC and accuracy of each method's fakes
    against all scored reals of the set, with bootstrap intervals. ``kinds``: test set
    -> {video id: method} for sets whose layout names none (the DFDC demo).
    -> (CSV table, Markdown)."""
    kinds = kinds or {}
    rows = []
    for experiment, testset in evaluations:
        predictions = with_kinds(load(experiment, testset), kinds.get(testset, {}))
        scored = predictions[predictions.status == "ok"]
        methods = sorted(set(scored.loc[scored.label == 1, "method"].astype(str)))
        if len(methods) < 2 or not (scored.label == 0).any():
            continue
        for method in methods:
            m = metrics_of(of_method(predictions, method), bootstrap)
            row = {"experiment": experiment, "testset": testset, "method": method}
            row |= {"fakes": m["fake"], "reals": m["real"]}
            for k in ("auc", "acc"):
                row[f"video_{k}"] = _pct(m["video"][k])
                row[f"{k}_lo"] = _pct(m["video_ci95"][f"{k}_lo"])
                row[f"{k}_hi"] = _pct(m["video_ci95"][f"{k}_hi"])
            rows.append(row)
    df = pd.DataFrame(rows)
    md = [
        "Per method: video-level AUC and accuracy % of each method's fakes against all "
        "real videos of the test set [bootstrap 95 % interval]; test sets whose fakes come "
        "from two or more methods (FF++'s four; the DFDC demo's six).",
        "",
    ]
    if df.empty:
        return df, "\n".join(md + ["No test set of this run has two or more methods."]) + "\n"
    md += [
        "| experiment | test set | method | fakes / reals | AUC % | ACC % |",
        "|---|---|---|---|---|---|",
    ]
    for r in df.itertuples(index=False):
        auc, acc = (
            f"{getattr(r, f'video_{k}'):.1f} [{getattr(r, f'{k}_lo'):.1f}, "
            f"{getattr(r, f'{k}_hi'):.1f}]"
            for k in ("auc", "acc")
        )
        md.append(
            f"| {r.experiment} | {r.testset} | {r.method} | {r.fakes} / {r.reals} | {auc} | {acc} |"
        )
    return df, "\n".join(md) + "\n"

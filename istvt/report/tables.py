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
from istvt.report.seeds import mean_sd, over_seeds, spread_text


def of_method(predictions: pd.DataFrame, method: str) -> pd.DataFrame:
    """The real videos and the fakes of one method: the set a per-method cell scores."""
    return predictions[(predictions.label == 0) | (predictions.method == method)]


def cell_metrics(
    address: str,
    load: Callable[[str, str], Mapping[int, pd.DataFrame]],
    bootstrap: int = 1000,
    precision: Callable[[str, str, int], str] | None = None,
) -> dict[int, dict]:
    """Metrics of one table cell, per training seed, from its experiment x test set
    predictions (``load`` -> {seed: predictions}); ``precision(experiment, test set,
    seed)`` names the path its scores were computed on (the evaluation's metrics file)."""
    experiment, testset, method = parse_cell(address)
    out = {}
    for seed, predictions in load(experiment, testset).items():
        if method:
            if method not in set(predictions.method):
                raise ValueError(f"table cell {address!r}: no {method} videos in {testset}")
            predictions = of_method(predictions, method)
        out[seed] = metrics_of(predictions, bootstrap, seed)
        if precision is not None:
            out[seed]["precision"] = precision(experiment, testset, seed)
    return out


def _pct(value: float) -> float:
    return round(100 * value, 1) if value == value else math.nan


def _within(paper, values: list[float], cis: list[tuple[float, float]]) -> tuple[str, str]:
    """Is the paper's number within our seeds' range, and within how many seeds'
    bootstrap intervals? -> (range yes/no, "k/n")."""
    if paper is None or paper != paper or not values:
        return "", ""
    in_range = min(values) <= paper <= max(values)
    in_ci = sum(lo <= paper <= hi for lo, hi in cis)
    return ("yes" if in_range else "no"), f"{in_ci}/{len(cis)}"


def _row(
    key: str, label: str, address: str | None, ms: dict[int, dict] | None, metric: str, paper
) -> dict:
    ms = ms or {}
    values = [100 * m["video"][metric] for m in ms.values()]  # the mean of unrounded values
    cis = [
        (_pct(m["video_ci95"][f"{metric}_lo"]), _pct(m["video_ci95"][f"{metric}_hi"]))
        for m in ms.values()
    ]
    mean, sd = mean_sd(values)
    one = len(ms) == 1
    in_range, in_ci = _within(paper, [round(v, 1) for v in values], cis)  # as printed
    row = {
        "cell": key,
        "label": label,
        "source": address or "",
        "videos": next(iter(ms.values()))["scored"] if ms else 0,
        "precision": ",".join(sorted({m.get("precision", "") for m in ms.values()})),
        f"ours_{metric}": round(mean, 1) if mean == mean else math.nan,
        "sd": round(sd, 2) if sd == sd else math.nan,
        "seeds": len(ms),
        "ci95_lo": cis[0][0] if one else math.nan,
        "ci95_hi": cis[0][1] if one else math.nan,
    }
    for (seed, _), v, (lo, hi) in zip(ms.items(), values, cis, strict=True):
        row |= {f"seed{seed}_{metric}": round(v, 1), f"seed{seed}_lo": lo, f"seed{seed}_hi": hi}
    row |= {
        f"paper_{metric}": paper,
        "paper_in_seed_range": in_range,
        "paper_in_ci_of_seeds": in_ci,
        "_text": "–" if not ms else spread_text(values, *(cis[0] if one else (math.nan,) * 2)),
        "_within": f"range {in_range}, CI {in_ci}" if in_ci else "–",
    }
    return row


def _ours_note(rows: list[dict]) -> str:
    seeds = max((r["seeds"] for r in rows), default=0)
    if seeds > 1:
        return (
            f"Ours: mean ± sd over {seeds} training seeds (each seed's value and bootstrap "
            "interval in the CSV); paper: ISTVT as published. – = not configured in this run."
        )
    return (
        "Ours: value [bootstrap 95 % interval]; paper: ISTVT as published. "
        "– = not configured in this run."
    )


def _within_note(rows: list[dict]) -> str:
    listed = [f"{r['label']}: {r['_within']}" for r in rows if r["_within"] != "–"]
    if not listed:
        return ""
    return (
        "Paper's number within our seeds' range (min-max) and within the bootstrap "
        "intervals of how many seeds: " + "; ".join(listed) + "."
    )


def table1(
    spec: Mapping[str, str],
    load: Callable[[str, str], Mapping[int, pd.DataFrame]],
    bootstrap: int = 1000,
    precision: Callable[[str, str, int], str] | None = None,
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
            m = cell_metrics(spec[key], load, bootstrap, precision) if key in spec else None
            rows.append(
                _row(key, f"{label} {method}", spec.get(key), m, "acc", paper[setting][method])
            )
    for key, label in OTHER_DATASETS.items():
        m = cell_metrics(spec[key], load, bootstrap, precision) if key in spec else None
        rows.append(_row(key, label, spec.get(key), m, "acc", paper[key]))
    df = pd.DataFrame(rows)
    text = {r["cell"]: r["_text"] for r in rows}
    md = [
        "Table I: video-level accuracy %, trained and tested on the same data.",
        _ours_note(rows),
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
    md += ["", _within_note(rows), "", _sources(rows)]
    return df.drop(columns=["_text", "_within"]), "\n".join(md) + "\n"


def table2(
    spec: Mapping[str, str],
    load: Callable[[str, str], Mapping[int, pd.DataFrame]],
    bootstrap: int = 1000,
    precision: Callable[[str, str, int], str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Table II (cross-dataset video AUC %, trained on FF++) -> (CSV table, Markdown)."""
    paper = paper_results()["table2_cross_auc"]
    unknown = set(spec) - set(TABLE2_CELLS)
    if unknown:
        raise ValueError(f"report.table2: unknown cells {sorted(unknown)}")
    rows = []
    for key, label in CROSS_TESTS.items():
        m = cell_metrics(spec[key], load, bootstrap, precision) if key in spec else None
        rows.append(_row(key, label, spec.get(key), m, "auc", paper[key]))
    df = pd.DataFrame(rows)
    ours = df["ours_auc"].dropna()
    md = [
        "Table II: cross-dataset video-level AUC %, trained on FF++.",
        _ours_note(rows),
        "",
        "| test set | ours | paper | paper within ours |",
        "|---|---|---|---|",
    ]
    md += [f"| {r['label']} | {r['_text']} | {r['paper_auc']:.1f} | {r['_within']} |" for r in rows]
    mean_ours = f"{ours.mean():.1f} (over {len(ours)} of {len(rows)})" if len(ours) else "–"
    md.append(f"| mean | {mean_ours} | {paper['mean']:.1f} | |")
    md += ["", _sources(rows)]
    return df.drop(columns=["_text", "_within"]), "\n".join(md) + "\n"


def _sources(rows: list[dict]) -> str:
    used = [
        f"{r['label']} = {r['source']} ({r['videos']} videos, {r['precision']})"
        for r in rows
        if r["source"]
    ]
    return "Sources (experiment/test set[/method], scoring precision): " + "; ".join(used) + "."


METRIC_COLUMNS = ("acc", "auc", "eer", "ap")


def results_matrix(
    metrics: Mapping[tuple[str, str], dict],
    train_sets: Mapping[str, str],
    runs: Mapping[str, tuple[str, int]] | None = None,
) -> pd.DataFrame:
    """Every experiment x test set: video-level metrics with intervals, clip-level ACC/AUC,
    the scoring precision; over training seeds (``runs``: run -> (experiment, seed)) each
    value's mean, ``_sd`` and ``_seed<s>`` columns. A bootstrap interval belongs to one
    seed: with several, ``_lo`` / ``_hi`` are each seed's (``_lo_seed<s>``) only."""
    runs = runs or {e: (e, 0) for e, _ in metrics}
    rows = []
    for (run, testset), m in metrics.items():
        experiment, seed = runs[run]
        row = {
            "experiment": experiment,
            "testset": testset,
            "seed": seed,
            "kind": "in-dataset" if train_sets.get(run) == m.get("dataset") else "cross",
            "videos": m["videos"],
            "scored": m["scored"],
            "precision": m.get("precision", ""),
        }
        for k in METRIC_COLUMNS:
            row[f"video_{k}"] = m["video"][k]
            row[f"video_{k}_lo"] = m["video_ci95"][f"{k}_lo"]
            row[f"video_{k}_hi"] = m["video_ci95"][f"{k}_hi"]
        row["clip_acc"], row["clip_auc"] = m["clip"]["acc"], m["clip"]["auc"]
        rows.append(row)
    long = pd.DataFrame(rows).sort_values(["experiment", "testset", "seed"], kind="stable")
    seeds = sorted(long["seed"].unique().tolist())
    values = [c for c in long.columns if c.startswith(("video_", "clip_"))]
    df = over_seeds(long, ["experiment", "testset"], values, seeds)
    if len(seeds) > 1:
        for col in values:
            if col.endswith(("_lo", "_hi")):
                df[col] = math.nan
    return df.reset_index(drop=True)


def matrix_markdown(df: pd.DataFrame) -> str:
    """The results matrix as Markdown (percentages; one seed: intervals in brackets,
    several: mean ± sd over seeds)."""
    several = "seeds" in df and (df["seeds"] > 1).any()
    what = (
        "mean ± sd over training seeds (each seed's value in the CSV)"
        if several
        else "95 % bootstrap intervals over videos"
    )
    lines = [
        f"All experiments x test sets, video level (score = mean of clip scores); {what}.",
        "",
        "| experiment | test set | kind | videos | ACC % | AUC % | EER % | AP % | clip AUC % "
        "| precision |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in df.to_dict("records"):
        seeds = [k.rsplit("_seed", 1)[1] for k in r if k.startswith("video_auc_seed")]
        cells = []
        for k in METRIC_COLUMNS:
            per = [100 * r[f"video_{k}_seed{s}"] for s in seeds] or [100 * r[f"video_{k}"]]
            lo, hi = 100 * r[f"video_{k}_lo"], 100 * r[f"video_{k}_hi"]
            cells.append(spread_text(per, lo, hi))
        clip = [100 * r[f"clip_auc_seed{s}"] for s in seeds] or [100 * r["clip_auc"]]
        lines.append(
            f"| {r['experiment']} | {r['testset']} | {r['kind']} | {r['scored']}/{r['videos']} | "
            + " | ".join(cells)
            + f" | {spread_text(clip)} | {r.get('precision', '')} |"
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
    load: Callable[[str, str], Mapping[int, pd.DataFrame]],
    kinds: Mapping[str, Mapping[str, str]] | None = None,
    bootstrap: int = 1000,
) -> tuple[pd.DataFrame, str]:
    """Which fakes each model finds: for every experiment x test set whose scored fakes
    come from two or more methods, the video AUC and accuracy of each method's fakes
    against all scored reals of the set, with bootstrap intervals (one seed) or mean and
    sd over seeds (``load`` -> {seed: predictions}). ``kinds``: test set -> {video id:
    method} for sets whose layout names none (the DFDC demo). -> (CSV table, Markdown)."""
    kinds = kinds or {}
    rows, all_seeds = [], set()
    for experiment, testset in evaluations:
        for seed, loaded in load(experiment, testset).items():
            all_seeds.add(seed)
            predictions = with_kinds(loaded, kinds.get(testset, {}))
            scored = predictions[predictions.status == "ok"]
            methods = sorted(set(scored.loc[scored.label == 1, "method"].astype(str)))
            if len(methods) < 2 or not (scored.label == 0).any():
                continue
            for method in methods:
                m = metrics_of(of_method(predictions, method), bootstrap, seed)
                row = {"experiment": experiment, "testset": testset, "method": method}
                row |= {"seed": seed, "fakes": m["fake"], "reals": m["real"]}
                for k in ("auc", "acc"):
                    row[f"video_{k}"] = _pct(m["video"][k])
                    row[f"{k}_lo"] = _pct(m["video_ci95"][f"{k}_lo"])
                    row[f"{k}_hi"] = _pct(m["video_ci95"][f"{k}_hi"])
                rows.append(row)
    seeds = sorted(all_seeds)
    values = ["video_auc", "auc_lo", "auc_hi", "video_acc", "acc_lo", "acc_hi"]
    df = over_seeds(pd.DataFrame(rows), ["experiment", "testset", "method"], values, seeds)
    several = len(seeds) > 1
    if several and not df.empty:  # an interval belongs to one seed: see _lo_seed<s>
        df[[v for v in values if v.endswith(("_lo", "_hi"))]] = math.nan
    md = [
        "Per method: video-level AUC and accuracy % of each method's fakes against all "
        "real videos of the test set "
        + ("[mean ± sd over training seeds]" if several else "[bootstrap 95 % interval]")
        + "; test sets whose fakes come from two or more methods (FF++'s four; the DFDC "
        "demo's six).",
        "",
    ]
    if df.empty:
        return df, "\n".join(md + ["No test set of this run has two or more methods."]) + "\n"
    md += [
        "| experiment | test set | method | fakes / reals | AUC % | ACC % |",
        "|---|---|---|---|---|---|",
    ]
    for r in df.to_dict("records"):
        auc, acc = (
            spread_text([r[f"video_{k}_seed{s}"] for s in seeds], r[f"{k}_lo"], r[f"{k}_hi"])
            for k in ("auc", "acc")
        )
        md.append(
            f"| {r['experiment']} | {r['testset']} | {r['method']} | {r['fakes']} / "
            f"{r['reals']} | {auc} | {acc} |"
        )
    return df, "\n".join(md) + "\n"

"""Training seeds in the tables: each cell's mean and standard deviation over seeds with
every seed's value beside it, and paired tests of two models on the same test videos.

A run with one seed keeps the tables it always had (value [bootstrap interval]); with
several, a cell reads ``mean ± sd`` and the CSV carries ``<column>_seed<s>`` for each
seed. Paired comparisons use DeLong's test (:func:`istvt.metrics.paired_auc_test`):
per seed, and pooled over seeds as the difference of the seed-mean AUCs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from istvt.metrics import paired_auc_test


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two values), NaNs dropped."""
    v = np.asarray([x for x in values if x == x], dtype=float)
    if not len(v):
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def spread_text(values, lo: float = math.nan, hi: float = math.nan, digits: int = 1) -> str:
    """``v [lo, hi]`` for one seed (its bootstrap interval), ``mean ± sd`` for several;
    values as they should be printed (already in %)."""
    values = list(values)
    if not values or all(v != v for v in values):
        return "n/a"
    if len(values) == 1:
        v = values[0]
        if lo == lo and hi == hi:
            return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
        return f"{v:.{digits}f}"
    m, sd = mean_sd(values)
    return f"{m:.{digits}f} ± {sd:.{digits}f}"


def over_seeds(
    long: pd.DataFrame, keys: list[str], values: list[str], seeds: list[int]
) -> pd.DataFrame:
    """One row per ``keys`` of a table with one row per seed (column ``seed``): every
    value column becomes its mean, ``<col>_sd`` and ``<col>_seed<s>``; other columns
    keep the first seed's entry. Rows keep their first appearance's order."""
    if long.empty:
        return long
    rows = []
    for _, group in long.groupby(keys, sort=False, dropna=False):  # NaN keys: a row too
        row = group.iloc[0].drop(labels=["seed", *values]).to_dict()
        by_seed = group.set_index("seed")
        for col in values:
            per = [by_seed[col].get(s, math.nan) for s in seeds]
            row[col], row[f"{col}_sd"] = mean_sd(per)
            row |= {f"{col}_seed{s}": v for s, v in zip(seeds, per, strict=True)}
        row["seeds"] = int(group["seed"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- paired tests
def aligned_scores(per_run: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, dict]:
    """Labels and {run: video scores} on the videos every run scored (status ok), in
    one order. ValueError where two runs disagree on a video's label."""
    frames = {
        run: p.loc[p.status == "ok", ["video_id", "label", "score"]].set_index("video_id")
        for run, p in per_run.items()
    }
    common = sorted(set.intersection(*(set(f.index) for f in frames.values())))
    first = next(iter(frames.values()))
    labels = first.loc[common, "label"].to_numpy().astype(int)
    for run, f in frames.items():
        if not np.array_equal(f.loc[common, "label"].to_numpy().astype(int), labels):
            raise ValueError(f"{run}: its labels differ from the other runs' on the same videos")
    return labels, {run: f.loc[common, "score"].to_numpy(float) for run, f in frames.items()}


def compare(
    a: Mapping[int, pd.DataFrame], b: Mapping[int, pd.DataFrame], seeds: list[int]
) -> list[dict]:
    """Model A against model B on the videos both scored: one row per seed both were
    trained with (A's seed s against B's seed s) and, with several seeds, one pooled row
    (``seed`` = "pooled"). AUCs and differences in %."""
    runs = {f"a{s}": a[s] for s in seeds if s in a} | {f"b{s}": b[s] for s in seeds if s in b}
    labels, scores = aligned_scores(runs)
    both = [s for s in seeds if s in a and s in b]
    rows = []

    def row(seed, sa, sb):
        if len(set(labels)) < 2:
            return {"seed": seed, "videos": len(labels), "note": "one class only"}
        t = paired_auc_test(labels, sa, sb)
        return {
            "seed": seed,
            "videos": t["items"],
            "auc_a": 100 * t["auc_a"],
            "auc_b": 100 * t["auc_b"],
            "diff": 100 * t["diff"],
            "diff_lo": 100 * t["diff_lo"],
            "diff_hi": 100 * t["diff_hi"],
            "z": t["z"],
            "p": t["p"],
        }

    for s in both:
        rows.append(row(str(s), scores[f"a{s}"], scores[f"b{s}"]))
    if len(both) > 1:
        rows.append(
            row(
                "pooled",
                np.vstack([scores[f"a{s}"] for s in both]),
                np.vstack([scores[f"b{s}"] for s in both]),
            )
        )
    return rows


def p_text(p: float) -> str:
    if p != p:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def diff_text(r: Mapping) -> str:
    if "diff" not in r or r["diff"] != r["diff"]:
        return r.get("note", "–")
    return f"{r['diff']:+.1f} [{r['diff_lo']:+.1f}, {r['diff_hi']:+.1f}]"


def paired_tests(
    evaluations: list[tuple[str, str]],
    load: Callable[[str, str], Mapping[int, pd.DataFrame]],
    seeds: list[int],
) -> tuple[pd.DataFrame, str]:
    """Every pair of models scored on the same test set: DeLong's test of their video
    AUCs, per seed and pooled. ``evaluations``: (experiment, test set) in config order;
    ``load``: -> {seed: predictions}. -> (CSV table, Markdown)."""
    by_test: dict[str, list[str]] = {}
    for experiment, testset in evaluations:
        by_test.setdefault(testset, [])
        if experiment not in by_test[testset]:
            by_test[testset].append(experiment)
    rows = []
    for testset, models in by_test.items():
        for a, b in itertools.combinations(models, 2):
            for r in compare(load(a, testset), load(b, testset), seeds):
                rows.append({"testset": testset, "model_a": a, "model_b": b, **r})
    df = pd.DataFrame(rows)
    pooled = "pooled" if len(seeds) > 1 else str(seeds[0])
    md = [
        "Paired tests: two models on the same test videos (those both scored), DeLong's "
        "test for correlated ROC curves on the video scores: AUC difference A - B in "
        "points [95 % interval] and two-sided p. "
        + (
            f"Pooled over seeds {', '.join(map(str, seeds))}: the difference of the "
            "seed-mean AUCs, its variance from all seeds' AUCs on the same videos; "
            "each seed's own test is in the CSV."
            if len(seeds) > 1
            else f"One training seed ({seeds[0]}); a difference within the spread "
            "over seeds is not a difference between the models (seeds: [0, 1, 2])."
        ),
        "",
    ]
    if df.empty:
        return df, "\n".join(md + ["No test set of this run is scored by two models."]) + "\n"
    md += [
        "| test set | A | B | videos | AUC A % | AUC B % | A - B [95 % CI] | p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in df[df.seed == pooled].to_dict("records"):
        md.append(
            f"| {r['testset']} | {r['model_a']} | {r['model_b']} | {r['videos']} | "
            f"{r.get('auc_a', math.nan):.1f} | {r.get('auc_b', math.nan):.1f} | "
            f"{diff_text(r)} | {p_text(r.get('p', math.nan))} |"
        )
    return df, "\n".join(md) + "\n"


#: the faithfulness columns (istvt.interpret) a table over seeds averages
FAITHFULNESS_COLUMNS = {
    "pointing_game": ("pointing game %", 1),
    "pointing_gain": ("vs random", 1),
    "mask_mass": ("mass in mask %", 1),
    "mass_gain": ("vs random", 1),
    "deletion_gain": ("deletion vs random", 2),
    "randomised_spearman": ("randomised ρ", 2),
}


def faithfulness_over_seeds(
    tables: Mapping[int, pd.DataFrame], experiment: str
) -> tuple[pd.DataFrame, str]:
    """An experiment's faithfulness tables (one per training seed) -> each map's
    measures as mean ± sd over seeds (CSV: mean, ``_sd``, ``_seed<s>``) and Markdown."""
    seeds = sorted(tables)
    long = pd.concat([t.assign(seed=s) for s, t in tables.items()], ignore_index=True)
    values = [c for c in FAITHFULNESS_COLUMNS if c in long]
    keep = ["map", "label", "seed", *values]
    df = over_seeds(long[keep], ["map", "label"], values, seeds)
    head = " | ".join(FAITHFULNESS_COLUMNS[c][0] for c in values)
    md = [
        f"### Faithfulness over seeds: {experiment}",
        "",
        f"Each map's measures as mean ± sd over training seeds {', '.join(map(str, seeds))} "
        "(each seed's table: results/interpret/" + experiment + "/seed-<s>/faithfulness.md).",
        "",
        f"| map | {head} |",
        "|---|" + "---|" * len(values),
    ]
    for r in df.to_dict("records"):
        cells = [
            spread_text([r[f"{c}_seed{s}"] for s in seeds], digits=FAITHFULNESS_COLUMNS[c][1])
            for c in values
        ]
        md.append(f"| {r['label']} | " + " | ".join(c.replace("n/a", "–") for c in cells) + " |")
    return df, "\n".join(md) + "\n"

"""The demo's targets, seed by seed, read from a finished run of the workflow: the
in-dataset video AUC of every configured experiment with its 95 % bootstrap lower
bound and test-video count, per method where a test set has several, and ISTVT-LRP's
localisation against random maps on the demo's true masks -- each training seed's row
and their mean ± sd.

    snakemake --cores all --config 'seeds=[0,1,2]'     # the workflow trains the seeds
    python benchmarks/demo_seeds.py .                  # this table, from its results
    python benchmarks/demo_seeds.py RUN --out FILE.md

It reads ``results/tables/all_results.csv`` and ``per_method.csv`` (one column per
seed) and each run's ``results/interpret/<experiment>[/seed-<s>]/faithfulness.csv``;
it computes nothing the workflow did not. Targets (issue: a default run that shows a
working detector): AUC >= 95 with the lower bound >= 85 on >= 30 test videos, every
seed and demo data set; pointing game >= random + 15 points and mass in mask >=
random + 5 points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import cpu_line, emit  # noqa: E402

from istvt.plan import run_name  # noqa: E402
from istvt.report.seeds import mean_sd  # noqa: E402


def seeds_of(matrix: pd.DataFrame) -> list[int]:
    """The training seeds of a run, from its results matrix's per-seed columns."""
    return sorted(int(c.rsplit("_seed", 1)[1]) for c in matrix if c.startswith("video_auc_seed"))


def lrp_gains(root: Path, run: str) -> dict:
    path = root / "results" / "interpret" / run / "faithfulness.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path).set_index("map")
    if "lrp" not in table.index:
        return {}
    return {
        "LRP PG gain": table.loc["lrp", "pointing_gain"],
        "LRP mass gain": table.loc["lrp", "mass_gain"],
    }


def seed_rows(root: Path) -> pd.DataFrame:
    """One row per configured experiment (its own data set's test split) and seed."""
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    tables = root / "results" / "tables"
    matrix = pd.read_csv(tables / "all_results.csv").set_index(["experiment", "testset"])
    per_method = (
        pd.read_csv(tables / "per_method.csv") if (tables / "per_method.csv").is_file() else None
    )
    seeds = seeds_of(matrix.reset_index())
    rows = []
    for name, ex in config["experiments"].items():
        cell = matrix.loc[(name, ex["dataset"])]
        for seed in seeds:
            row = {
                "experiment": name,
                "seed": seed,
                "test videos": int(cell["scored"]),
                "AUC %": 100 * cell[f"video_auc_seed{seed}"],
                "CI low %": 100 * cell[f"video_auc_lo_seed{seed}"],
                "ACC %": 100 * cell[f"video_acc_seed{seed}"],
                **lrp_gains(root, run_name(name, seed, seeds)),
            }
            if per_method is not None:
                mine = per_method[
                    (per_method.experiment == name) & (per_method.testset == ex["dataset"])
                ]
                if len(mine):
                    row["AUC % per method"] = ", ".join(
                        f"{m} {v:.0f}"
                        for m, v in zip(mine.method, mine[f"video_auc_seed{seed}"], strict=True)
                    )
            rows.append(row)
    return pd.DataFrame(rows)


def with_means(rows: pd.DataFrame) -> pd.DataFrame:
    """The seed rows, and after each experiment's a ``mean ± sd`` row."""
    out = []
    numeric = [
        c for c in ("AUC %", "CI low %", "ACC %", "LRP PG gain", "LRP mass gain") if c in rows
    ]
    for name, group in rows.groupby("experiment", sort=False):
        # text cells, like the mean rows' (a column of text and numbers prints unrounded)
        seeds = group.assign(seed=group.seed.astype(str))
        for col in numeric:
            seeds[col] = seeds[col].map(lambda v: "–" if pd.isna(v) else f"{v:.1f}")
        out += seeds.to_dict("records")
        if len(group) > 1:
            mean = {
                "experiment": name,
                "seed": "mean ± sd",
                "test videos": group["test videos"].iloc[0],
            }
            for col in numeric:
                m, sd = mean_sd(group[col])
                mean[col] = f"{m:.1f} ± {sd:.1f}"
            out.append(mean)
    return pd.DataFrame(out).fillna("–")


def targets_met(rows: pd.DataFrame) -> str:
    detection = (rows["AUC %"] >= 95) & (rows["CI low %"] >= 85) & (rows["test videos"] >= 30)
    text = "AUC target (>= 95, lower bound >= 85, >= 30 videos) met in "
    text += f"{int(detection.sum())} of {len(rows)} rows"
    if "LRP PG gain" in rows:
        lrp = (rows["LRP PG gain"] >= 15) & (rows["LRP mass gain"] >= 5)
        measured = int(rows["LRP PG gain"].notna().sum())
        text += f"; LRP targets (+15 / +5) in {int(lrp.sum())} of {measured}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the working directory of a finished run")
    parser.add_argument("--out", help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    rows = seed_rows(args.run)
    text = "\n".join(
        [
            cpu_line(),
            "",
            with_means(rows).to_markdown(index=False, floatfmt=".1f"),
            "",
            targets_met(rows),
        ]
    )
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-rule wall time and peak memory of a finished workflow run, from the
``benchmark:`` files Snakemake wrote under benchmarks/{rule}/.

    python benchmarks/workflow_times.py [RUN_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def collect(run_dir: Path) -> pd.DataFrame:
    rows = []
    for tsv in sorted((run_dir / "benchmarks").glob("*/**/*.tsv")):
        rel = tsv.relative_to(run_dir / "benchmarks")
        bench = pd.read_csv(tsv, sep="\t")
        rows.append(
            {
                "rule": rel.parts[0],
                "job": "/".join(rel.with_suffix("").parts[1:]),
                "seconds": float(bench.s.iloc[-1]),
                "max_rss_mb": float(bench.max_rss.iloc[-1]),
                "cpu_seconds": float(bench.cpu_time.iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def main(run_dir: str = ".") -> int:
    df = collect(Path(run_dir))
    if df.empty:
        print(f"no benchmark files under {Path(run_dir) / 'benchmarks'}; run the workflow first")
        return 1
    print(df.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    per_rule = df.groupby("rule").agg(jobs=("job", "size"), seconds=("seconds", "sum"))
    print("\nper rule (sum over its jobs; jobs of different rules may overlap in time):\n")
    print(per_rule.to_string(float_format=lambda v: f"{v:.1f}"))
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", default=".", help="a finished run (default: .)")
    sys.exit(main(parser.parse_args().run_dir))

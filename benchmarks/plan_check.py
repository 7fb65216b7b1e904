"""How far ``istvt plan``'s estimate is from a finished run: per stage, the core-seconds
the plan expects against the job seconds Snakemake measured (``benchmark:`` files), and
the whole run's wall time against the plan's ideal wall on this machine's cores. Prints
the ``calibration`` entry that makes the plan match this run, to paste under the CPU
class in ``istvt/rates.yaml`` (measured on one run: check it on the next).

    python benchmarks/plan_check.py RUN_DIR [--wall-minutes M] [--without-calibration]

Run it on the machine that ran RUN_DIR (the plan reads this CPU's class). ``--wall-minutes``:
the run's measured wall time (e.g. from ``time snakemake ...``), to compare with the
plan's ideal wall on this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml
from workflow_times import collect  # benchmarks/workflow_times.py

from istvt import cost
from istvt.config import override

#: the plan's stage of each rule with a benchmark file (evaluate_perturbed writes its
#: files under benchmarks/evaluate/)
STAGE_OF_RULE = {
    "demo_data": "demo data",
    "preprocess_shard": "face extraction",
    "compress_videos": "face extraction",
    "train": "training",
    "evaluate": "evaluation",
    "evaluate_perturbations": "evaluation",
    "interpret": "relevance maps",
}


def compare(
    run: Path, calibrated: bool, overrides: list[str] | None = None
) -> tuple[list[dict], dict]:
    jobs = collect(run)
    if jobs.empty:
        raise SystemExit(f"no benchmark files under {run / 'benchmarks'}; run the workflow first")
    unknown = sorted(set(jobs.rule) - set(STAGE_OF_RULE))
    if unknown:
        raise SystemExit(f"rules with benchmark files but no stage here: {', '.join(unknown)}")
    jobs["stage"] = jobs.rule.map(STAGE_OF_RULE)
    measured = jobs.groupby("stage").seconds.sum()
    config = override(yaml.safe_load((run / "config" / "config.yaml").read_text()), overrides)
    here = os.getcwd()
    os.chdir(run)  # the config's roots are relative to the run
    try:
        summary = cost.plan_summary(config, "config/config.yaml", calibrate=calibrated)
    finally:
        os.chdir(here)
    rows = []
    for stage, st in summary["cost"]["stages"].items():
        planned = st["cpu_core_hours"] * 3600
        got = float(measured.get(stage, 0.0))
        rows.append(
            {
                "stage": stage,
                "jobs": st["jobs"],
                "planned s": planned,
                "measured s": got,
                "measured / planned": got / planned if planned else float("nan"),
            }
        )
    return rows, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run's directory")
    parser.add_argument("--wall-minutes", type=float, help="the run's measured wall time")
    parser.add_argument(
        "--config",
        nargs="+",
        metavar="KEY=VALUE",
        help="the --config the run was started with, e.g. seeds=[0,1,2]",
    )
    parser.add_argument(
        "--without-calibration",
        action="store_true",
        help="the plan from the microbenchmark rates alone (what a calibration is made from)",
    )
    args = parser.parse_args(argv)
    rows, summary = compare(args.run, not args.without_calibration, args.config)
    cpu = summary["cost"]["cpu"]
    print(f"# CPU class {cpu['class']}, {cpu['cores']} cores; rates of {cpu['rates_from']}")
    print(f"# {'without' if args.without_calibration else 'with'} the class's calibration")
    print("| stage | jobs | planned core-s | measured job-s | measured / planned |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['stage']} | {r['jobs']} | {r['planned s']:.0f} | {r['measured s']:.0f} | "
            f"{r['measured / planned']:.2f} |"
        )
    planned = sum(r["planned s"] for r in rows)
    got = sum(r["measured s"] for r in rows)
    print(f"| **all** | | **{planned:.0f}** | **{got:.0f}** | **{got / planned:.2f}** |")
    ideal = planned / cpu["cores"] / 60
    line = f"plan's ideal wall on {cpu['cores']} cores: {ideal:.1f} min"
    if args.wall_minutes:
        line += f"; measured {args.wall_minutes:.1f} min ({args.wall_minutes / ideal:.2f}x)"
    print(line)
    if args.without_calibration:
        factors = {r["stage"]: round(r["measured / planned"], 2) for r in rows if r["planned s"]}
        print(f"\ncalibration for istvt/rates.yaml (cpus.{cpu['class']}):")
        print(yaml.safe_dump({"calibration": factors}, sort_keys=False).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

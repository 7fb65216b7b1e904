"""What one Slurm job costs beyond its work, and what bundling small jobs saves.

A throw-away workflow of ``--width`` parallel chains of two one-second steps and a
gather runs three times in the same command: locally, through Snakemake's Slurm
executor one sbatch job per step, and with each chain's second steps bundled by
``group-components``. Prints wall times, submissions and the overhead per submitted
job against the local run. Needs a Slurm with partition ``cpu`` (tests/slurm/cluster.sh
up) and snakemake-executor-plugin-slurm.

    python benchmarks/slurm_overhead.py --width 4
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNAKEFILE = """
W = {width}

rule all:
    input: "gather.txt"

rule first:
    output: "first/{{i}}.txt"
    resources: slurm_partition="cpu", mem_mb=100, runtime=5
    shell: "sleep 1; echo {{wildcards.i}} > {{output}}"

rule second:
    input: "first/{{i}}.txt"
    output: "second/{{i}}.txt"
    group: "second"
    resources: slurm_partition="cpu", mem_mb=100, runtime=5
    shell: "sleep 1; cat {{input}} > {{output}}"

rule gather:
    input: expand("second/{{i}}.txt", i=range(W))
    output: "gather.txt"
    localrule: True
    shell: "cat {{input}} > {{output}}"
"""


def run(folder: Path, args: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--directory", str(folder), *args],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return seconds, len(re.findall(r"submitted with SLURM jobid", proc.stdout + proc.stderr))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4, help="parallel chains")
    parser.add_argument("--init-seconds", type=int, default=2, help="first status check")
    args = parser.parse_args()
    slurm = [
        "--executor",
        "slurm",
        "--jobs",
        "20",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        str(args.init_seconds),
        "--latency-wait",
        "5",
    ]
    setups = {
        "local": ["--cores", "2"],
        "Slurm, a job per step": slurm,
        "Slurm, second steps bundled": slurm + ["--group-components", f"second={args.width}"],
    }
    print(f"{2 * args.width} one-second steps in {args.width} chains + a local gather")
    print(f"status checks from {args.init_seconds} s, then 10 s later each time (the plugin)")
    base = None
    for name, extra in setups.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "Snakefile").write_text(SNAKEFILE.format(width=args.width))
            seconds, jobs = run(folder, ["-s", str(folder / "Snakefile"), *extra])
        base = seconds if base is None else base
        per_job = (seconds - base) / jobs if jobs else 0.0
        print(
            f"{name:30s} {seconds:6.1f} s  {seconds / base:4.1f}x local  "
            f"{jobs:2d} sbatch jobs  overhead {per_job:5.1f} s per job"
        )


if __name__ == "__main__":
    main()

"""The workflow on a real Slurm: tests/slurm/cluster.sh brings up a one-node cluster
from Debian's packages (no accounting database), profiles/slurm/ with the sizes of
tests/slurm/overlay.yaml runs the tiny workflow through it, and a training with a
one-minute time limit finishes by resubmission alone. Both are compared with local
runs. Without root and apt-get (a user's machine) the cluster tests skip; the checks
of the status command run everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from istvt.cluster import parse_slurm_duration, status_command_problem

from .conftest import REPO
from .workflow_helpers import TINY, command


def merge(base: dict, overlay: dict) -> dict:
    """``overlay`` merged into ``base`` key by key (nested dicts merged, not replaced)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merge(base[key], value)
        else:
            out[key] = value
    return out


def test_profile_overlay_merges_per_rule_sizes_and_keeps_the_rest():
    """What --set-resources on the command line cannot do (it replaces the profile's
    whole per-rule list): the overlay changes the sizes it names, nothing else."""
    base = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    overlay = yaml.safe_load((REPO / "tests" / "slurm" / "overlay.yaml").read_text())
    merged = merge(base, overlay)
    assert merged["set-resources"]["train"]["gpu"] == 0
    assert merged["set-resources"]["train"]["cpus_per_task"] == 2
    # untouched keys of a touched rule stay
    assert merged["set-resources"]["preprocess_shard"]["runtime"] == 240
    assert merged["preemptible-rules"] == ["train"] and merged["executor"] == "slurm"


def test_slurm_durations():
    assert parse_slurm_duration("59") == 59 * 60  # minutes
    assert parse_slurm_duration("1:05") == 65
    assert parse_slurm_duration("2:00:30") == 7230
    assert parse_slurm_duration("1-02:03:04") == ((24 + 2) * 60 + 3) * 60 + 4
    assert parse_slurm_duration("3-12") == 84 * 3600
    assert parse_slurm_duration("UNLIMITED") is None
    assert parse_slurm_duration("INVALID") is None


def test_status_command_is_checked_against_the_cluster():
    no_accounting = {"AccountingStorageType": "accounting_storage/none", "MinJobAge": "300 sec"}
    problem = status_command_problem(None, no_accounting)  # the executor's default: sacct
    assert "slurm-status-command: squeue" in problem and "accounting" in problem
    assert status_command_problem("sacct", no_accounting)
    assert status_command_problem("squeue", no_accounting) is None
    # squeue, but MinJobAge under 3 x the first check interval: the executor itself goes
    # back to sacct, which cannot answer here
    short = {**no_accounting, "MinJobAge": "60 sec"}
    assert "MinJobAge" in status_command_problem("squeue", short, init_seconds=40)
    assert status_command_problem("squeue", short, init_seconds=2) is None
    assert status_command_problem("squeue", short, sacct_installed=False) is None
    slurmdbd = {"AccountingStorageType": "accounting_storage/slurmdbd", "MinJobAge": "300"}
    assert status_command_problem(None, slurmdbd) is None
    assert status_command_problem("sacct", {}) is None  # no controller: sbatch will say


# ---------------------------------------------------------------- on the cluster


def slurm_profile(folder: Path, **extra) -> Path:
    base = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    overlay = yaml.safe_load((REPO / "tests" / "slurm" / "overlay.yaml").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(merge(merge(base, overlay), extra)))
    return folder


def run(workdir: Path, config: dict, *args, timeout=1800):
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    t0 = time.perf_counter()
    proc = subprocess.run(command(workdir, *args), capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - t0


def same_weights(a: Path, b: Path) -> list[str]:
    """Names of the tensors that differ between two checkpoints or training states."""
    sa, sb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    sa, sb = (s.get("state_dict", s.get("best_model")) for s in (sa, sb))
    return [k for k in sa if not torch.equal(sa[k], sb[k])]


def differences(local: Path, other: Path) -> list[str]:
    """Outputs of two workflow runs that differ: videos, face shards, models, training
    logs (but for seconds), scores, metrics and tables."""
    out = []
    for path in sorted(local.rglob("*")):
        rel = path.relative_to(local)
        if not path.is_file() or rel.parts[0] not in ("results", "resources"):
            continue
        twin = other / rel
        if not twin.is_file():
            out.append(f"{rel}: missing")
        elif path.suffix in (".mp4", ".npz") or rel.parts[:2] in (
            ("results", "predictions"),
            ("results", "tables"),
        ):
            if path.suffix in (".mp4", ".npz", ".csv", ".md") and (
                path.read_bytes() != twin.read_bytes()
            ):
                out.append(str(rel))
        elif path.name == "best_model.pth" and same_weights(path, twin):
            out.append(str(rel))
        elif path.name == "train_log.csv":
            a, b = (pd.read_csv(p).drop(columns="seconds") for p in (path, twin))
            if not a.equals(b):
                out.append(str(rel))
    return out


def test_tiny_workflow_through_the_slurm_profile_equals_a_local_run(
    slurm_cluster, tiny_run, tmp_path
):
    work = tmp_path / "slurm"
    work.mkdir()
    profile = slurm_profile(tmp_path / "profile")
    proc, seconds = run(work, TINY, "--profile", str(profile))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    done = [int(n) for n in re.findall(r"(\d+) of \1 steps \(100%\) done", log)]
    assert done, log[-2000:]
    print(f"tiny workflow through Slurm: {done[-1]} jobs in {seconds:.0f} s")
    assert "Submitted job" in log or "submitted with SLURM jobid" in log
    assert differences(tiny_run, work) == []


def test_a_training_longer_than_its_time_limit_finishes_by_resubmission(
    slurm_cluster, tiny_run, tmp_path
):
    """A one-minute limit, about three minutes of training: each job stops itself before
    the limit (the time left read from squeue), Snakemake's retries of the preemptible
    rule resume it, and the model is the uninterrupted local run's, to the bit."""
    config = {**TINY, "train": {**TINY["train"], "epochs": 60}}
    target = "results/models/dfdc/best_model.pth"
    runs = {}
    for name in ("local", "slurm"):
        work = tmp_path / name
        shutil.copytree(tiny_run, work, symlinks=True)
        for sub in ("models", "predictions", "metrics", "tables", "figures"):
            shutil.rmtree(work / "results" / sub, ignore_errors=True)
        shutil.rmtree(work / "resources" / "work" / "train", ignore_errors=True)
        runs[name] = work
    proc, local_s = run(runs["local"], config, "--cores", "2", target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    profile = slurm_profile(
        tmp_path / "profile",
        **{"set-resources": {"train": {"runtime": 1}}, "preemptible-retries": 10},
    )
    proc, slurm_s = run(runs["slurm"], config, "--profile", str(profile), target)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = (runs["slurm"] / "logs" / "train" / "dfdc.log").read_text()
    attempts = log.count("INFO attempt ")
    print(f"60 epochs: {local_s:.0f} s locally, {slurm_s:.0f} s on Slurm in {attempts} jobs")
    assert attempts >= 2 and "before the time limit" in log
    assert "resuming after epoch" in log
    assert differences(runs["local"], runs["slurm"]) == []
    assert (runs["slurm"] / target).is_file()

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
from .workflow_helpers import TINY, command, differences


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


def test_no_rule_is_in_a_job_group():
    """Snakemake's job groups downstream of a checkpoint crash its scheduler on a cluster,
    one run in several (snakemake#2151, #4202: `KeyError: evaluate` in update_ready), and
    every face shard and evaluation reads what the manifest checkpoint decides."""
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk")) + [REPO / "Snakefile"]
    grouped = [
        f"{path.name}:{n}"
        for path in rules
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s+group:\s*(\"|'|$)", line)  # the directive, not a dict key
    ]
    assert grouped == []
    for profile in (
        REPO / "profiles" / "slurm" / "config.yaml",
        REPO / "tests" / "slurm" / "overlay.yaml",
    ):
        config = yaml.safe_load(profile.read_text())
        assert not {"groups", "group-components"} & set(config), profile


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
    """A one-minute limit, about 100 s of training (0.5 s per epoch here): each job
    stops itself before the limit (the time left read from squeue), Snakemake's retries
    of the preemptible rule resume it, and the model is the uninterrupted local run's,
    to the bit."""
    config = {**TINY, "train": {**TINY["train"], "epochs": 200}}
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
    history = runs["slurm"] / "resources" / "work" / "train" / "dfdc" / "attempts.log"
    lines = history.read_text().splitlines()
    print(f"200 epochs: {local_s:.0f} s locally, {slurm_s:.0f} s on Slurm in {len(lines)} jobs")
    print("\n".join(lines))
    assert len(lines) >= 2 and lines[-1].endswith("finished"), lines
    assert all("(Slurm job " in line for line in lines)
    assert all("before the time limit" in line for line in lines[:-1]), lines
    log = (runs["slurm"] / "logs" / "train" / "dfdc.log").read_text()  # the last job's
    assert f"attempt {len(lines)} of this job" in log and "resuming after epoch" in log
    assert differences(runs["local"], runs["slurm"]) == []
    assert (runs["slurm"] / target).is_file()


def test_gpus_asked_of_a_partition_without_them_are_named():
    from istvt.cluster import gpu_request_problems, gpus_in_gres

    assert gpus_in_gres("(null)\n") == 0
    assert gpus_in_gres("gpu:4\ngpu:a100:8(S:0-1),shard:2\n") == 8
    offered = {"gpu": 4, "cpu": 0}.get
    requests = [("train", "cpu", 4), ("train", "cpu", 4), ("evaluate", "gpu", 1), ("x", "cpu", 0)]
    (problem,) = gpu_request_problems(requests, offered)
    assert "rule train asks for 4 GPU(s)" in problem and "'cpu' offers none" in problem
    assert gpu_request_problems([("train", "gpu", 8)], offered)  # 4 per node
    assert gpu_request_problems([("train", "x", 8)], lambda p: None) == []  # unknown


def test_a_wrong_status_command_or_gpus_on_a_cpu_partition_stop_before_any_submission(
    slurm_cluster, tmp_path
):
    cases = {
        "status": ({"slurm-status-command": "sacct"}, "slurm-status-command: squeue"),
        "gpus": (
            {"set-resources": {"train": {"slurm_partition": "cpu", "gpu": 2}}},
            "rule train asks for 2 GPU(s) per job, but partition 'cpu' offers none",
        ),
    }
    for name, (extra, message) in cases.items():
        work = tmp_path / name
        work.mkdir()
        profile = slurm_profile(tmp_path / f"profile-{name}", **extra)
        proc, seconds = run(work, TINY, "--profile", str(profile), timeout=300)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-3000:]
        assert "submitted with SLURM" not in proc.stdout + proc.stderr
        assert seconds < 120


def test_the_comparison_of_two_runs_sees_every_kind_of_difference(tmp_path):
    """differences() is what the cluster and kill tests assert on: it must not be blind."""
    a, b = tmp_path / "a", tmp_path / "b"
    for run_dir, value in ((a, 0.0), (b, 0.0)):
        models = run_dir / "results" / "models" / "m"
        models.mkdir(parents=True)
        torch.save({"state_dict": {"w": torch.full((2,), value)}}, models / "best_model.pth")
        pd.DataFrame({"epoch": [1], "loss": [0.5], "seconds": [1.0]}).to_csv(
            models / "train_log.csv", index=False
        )
        (run_dir / "resources").mkdir()
        (run_dir / "resources" / "v.mp4").write_bytes(b"video")
    assert differences(a, b) == []
    pd.DataFrame({"epoch": [1], "loss": [0.5], "seconds": [9.0]}).to_csv(
        b / "results" / "models" / "m" / "train_log.csv", index=False
    )
    assert differences(a, b) == []  # seconds taken may differ
    torch.save({"state_dict": {"w": torch.ones(2)}}, b / "results/models/m/best_model.pth")
    pd.DataFrame({"epoch": [1], "loss": [0.6], "seconds": [1.0]}).to_csv(
        b / "results" / "models" / "m" / "train_log.csv", index=False
    )
    (b / "resources" / "v.mp4").write_bytes(b"other")
    (a / "resources" / "only_here.npz").write_bytes(b"x")
    assert differences(a, b) == [
        "resources/only_here.npz: missing",
        "resources/v.mp4",
        "results/models/m/best_model.pth",
        "results/models/m/train_log.csv",
    ]

"""What a job needs to know about the Slurm cluster it runs on: its time left, and
whether the status command Snakemake's Slurm executor is set to can work there.

Everything here asks Slurm's own client tools (``squeue``, ``scontrol``) and degrades to
"unknown" (``None``) outside a Slurm job or without them.
"""

from __future__ import annotations

import os
import re
import subprocess

#: exit status of a training that saved its state and stopped before its time limit:
#: "resume me" (BSD's EX_TEMPFAIL); Snakemake's retry runs it again from that state
EXIT_RESUME = 75


def parse_slurm_duration(text: str) -> float | None:
    """Seconds in a Slurm duration (``squeue -o %L``, ``--time``): ``MM``, ``MM:SS``,
    ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``; None for ``UNLIMITED``,
    ``NOT_SET``, ``INVALID`` or anything unreadable."""
    text = text.strip()
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not match:
        return None
    days, a, b, c = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        h, m, s = int(a), int(b or 0), int(c or 0)
        return float(((int(days) * 24 + h) * 60 + m) * 60 + s)
    if c is not None:  # HH:MM:SS
        return float((int(a) * 60 + int(b)) * 60 + int(c))
    if b is not None:  # MM:SS
        return float(int(a) * 60 + int(b))
    return float(int(a) * 60)  # MM


def _run(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def slurm_time_left(env: dict | None = None) -> float | None:
    """Seconds until this Slurm job's time limit (``squeue -j $SLURM_JOB_ID -o %L``);
    None outside a Slurm job, for a job without a limit, or when ``squeue`` fails."""
    env = os.environ if env is None else env
    job = env.get("SLURM_JOB_ID")
    if not job:
        return None
    out = _run(["squeue", "--noheader", "--jobs", job, "--format", "%L"])
    return parse_slurm_duration(out.splitlines()[0]) if out and out.strip() else None


def slurm_config() -> dict[str, str]:
    """``scontrol show config`` as a dict (empty when it cannot be read)."""
    out = _run(["scontrol", "show", "config"]) or ""
    pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _seconds(text: str | None) -> float | None:
    match = re.match(r"\s*(\d+)", text or "")
    return float(match.group(1)) if match else None


def status_command_problem(
    status_command: str | None,
    config: dict[str, str],
    init_seconds: float = 40,
    sacct_installed: bool = True,
) -> str | None:
    """Why Snakemake's Slurm executor cannot follow its jobs on the cluster ``config``
    describes (:func:`slurm_config`) with ``status_command`` (None: its default), or
    None if it can.

    Without an accounting database ``sacct`` answers "Slurm accounting storage is
    disabled", which the executor logs at debug level only: the workflow then waits
    forever with nothing on the screen. The executor also switches from ``squeue`` back
    to ``sacct`` by itself when MinJobAge is under 3 x its first status-check interval
    (``slurm-init-seconds-before-status-checks``): a finished job would vanish from
    ``squeue`` before it is asked about.
    """
    if not config:
        return None  # no controller to ask: sbatch will say so at the first submission
    command = status_command or ("sacct" if sacct_installed else "squeue")
    storage = config.get("AccountingStorageType", "")
    min_job_age = _seconds(config.get("MinJobAge"))
    switched = ""
    if command == "squeue" and sacct_installed and (min_job_age or 0) < 3 * init_seconds:
        command = "sacct"
        switched = (
            f" (the executor uses sacct in place of squeue because MinJobAge, "
            f"{config.get('MinJobAge')}, is under 3 x slurm-init-seconds-before-status-checks"
            f" = {3 * init_seconds:.0f} s)"
        )
    if command == "sacct" and storage.endswith("/none"):
        return (
            f"this Slurm cluster keeps no accounting (AccountingStorageType = {storage}), "
            f"so sacct cannot report job states{switched} and Snakemake would wait forever "
            "without a message. Set `slurm-status-command: squeue` in your profile "
            "(profiles/slurm/config.yaml) or pass --slurm-status-command squeue, and keep "
            "MinJobAge (slurm.conf) at least 3 x slurm-init-seconds-before-status-checks "
            "so that squeue still lists a job that has just finished"
        )
    return None


def partition_gpus(partition: str | None) -> int | None:
    """GPUs per node that ``partition`` (None: the default one) offers as generic
    resources (``sinfo -o %G``: ``gpu:4``, ``gpu:a100:8(S:0-1)``, ``(null)``); the
    largest over its nodes, 0 for none, None when sinfo cannot say."""
    cmd = ["sinfo", "--noheader", "--format", "%G"]
    out = _run(cmd + (["--partition", partition] if partition else []))
    return gpus_in_gres(out) if out and out.strip() else None


def gpus_in_gres(text: str) -> int:
    """The most GPUs of one node in ``sinfo -o %G`` lines (0 for none)."""
    most = 0
    for field in text.split():
        for item in field.split(","):
            parts = item.split("(")[0].split(":")
            if parts[0] == "gpu" and len(parts) > 1 and parts[-1].isdigit():
                most = max(most, int(parts[-1]))
    return most


def gpu_request_problems(requests: list[tuple[str, str | None, int]], offered) -> list[str]:
    """Jobs asking for GPUs on a partition without them: ``requests`` are (rule,
    partition, gpus); ``offered(partition)`` is :func:`partition_gpus`. sbatch would
    refuse each with "Invalid generic resource (gres) specification"."""
    problems, seen = [], set()
    for rule, partition, gpus in requests:
        if gpus <= 0 or (rule, partition) in seen:
            continue
        seen.add((rule, partition))
        have = offered(partition)
        if have is not None and have < gpus:
            where = f"partition {partition!r}" if partition else "the default partition"
            problems.append(
                f"rule {rule} asks for {gpus} GPU(s) per job, but {where} offers "
                f"{have or 'none'}: set its slurm_partition to one with GPUs, or gpu: 0 in "
                "the profile's set-resources to run it on CPUs (one process; gpus.train in "
                "the config sizes the data-parallel training)"
            )
    return problems

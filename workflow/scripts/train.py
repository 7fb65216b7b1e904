"""Train one experiment's model (rule train); selection on validation, resumable.

The training state lives outside the declared outputs (params.state), so a run that is
killed resumes where its state was saved (every epoch and every
``train.checkpoint_minutes``), also with another number of GPUs. Inside a Slurm job the
training saves and stops before the job's time limit and exits with
``istvt.cluster.EXIT_RESUME``; Snakemake's next attempt of the job resumes it (on a
cluster the profile makes ``train`` a preemptible rule with enough retries:
docs/cluster.md). An attempt after one that failed with an error (not a stop) fails at
once with that error instead of training again. ``attempts.log`` beside the state keeps
one line per attempt (Snakemake replaces the job's log at each). With ``resources:
gpu`` > 1 the job runs ``torchrun`` with one process per GPU on this node
(data-parallel, the same global batch); in a Slurm job of several nodes (the profile's
``nodes`` resource) ``srun`` starts one torchrun agent per node, meeting through c10d
at the first node (not run on a real multi-node cluster).
"""

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import torch

from istvt.cluster import EXIT_RESUME
from istvt.provenance import provenance
from istvt.train import TrainingSuspended, run_job, torchrun_command

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
ex = sm.params.experiment
attempt = int(getattr(sm.resources, "attempt", 1) or 1)
processes = int(getattr(sm.resources, "gpu", 0) or 0)
failed = Path(sm.params.state).with_name("failed.txt")  # the last attempt's error
# one line per attempt, kept across attempts (Snakemake replaces the job's log at each)
history = Path(sm.params.state).with_name("attempts.log")
history.parent.mkdir(parents=True, exist_ok=True)


def record(outcome: str) -> None:
    job = os.environ.get("SLURM_JOB_ID")
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    where = f" (Slurm job {job})" if job else ""
    with history.open("a") as fh:
        fh.write(f"{when} attempt {attempt}{where}: {outcome}\n")


if attempt == 1:
    failed.unlink(missing_ok=True)
    history.unlink(missing_ok=True)
elif failed.is_file():
    raise SystemExit(
        f"attempt {attempt}: the previous attempt failed with an error, not a stop "
        f"before the time limit; not training again:\n{failed.read_text()}"
    )
logging.info("attempt %d of this job", attempt)
spec = {
    "manifest": sm.input.manifest,
    "faces": sm.input.faces,
    "model": ex["model"],
    "train": ex["train"],
    "methods": ex["methods"],
    "out_model": sm.output.model,
    "state": sm.params.state,
    "log_csv": sm.output.log_csv,
    "provenance": provenance(sm.config),
    "threads_per_process": max(1, sm.threads // max(1, processes)),
    "attempt": attempt,
    "keep_finished": True,  # a retry of a job killed after finishing restores it
}
nodes = int(os.environ.get("SLURM_NNODES", "1") or 1)  # a profile's `nodes` resource
try:
    if processes > 1 or nodes > 1:
        job = Path(sm.params.state).with_name("job.json")
        job.parent.mkdir(parents=True, exist_ok=True)
        job.write_text(json.dumps({**spec, "log": sm.log[0]}, indent=1, default=str))
        if nodes > 1:  # one torchrun agent per node, meeting at the first node
            first = subprocess.run(
                ["scontrol", "show", "hostnames", os.environ["SLURM_JOB_NODELIST"]],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
            cmd = torchrun_command(job, max(1, processes), nodes, f"{first}:29500")
            cmd = ["srun", f"--nodes={nodes}", "--ntasks-per-node=1", *cmd]
        else:
            cmd = torchrun_command(job, processes)
        logging.info("%d node(s) x %d process(es): %s", nodes, processes, " ".join(cmd))
        with open(sm.log[0], "a") as fh:
            done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
        if done.returncode == EXIT_RESUME:
            raise TrainingSuspended("torchrun's ranks stopped before the time limit")
        if done.returncode:
            raise RuntimeError(f"torchrun exited with {done.returncode}; see {sm.log[0]}")
    else:
        torch.set_num_threads(max(1, sm.threads))
        best = run_job(spec)
        logging.info("selected epoch %d: %s", best["epoch"], best)
except TrainingSuspended as stop:
    logging.info("%s; the next attempt of the job resumes (exit %d)", stop, EXIT_RESUME)
    record(f"suspended, {stop}")
    raise SystemExit(EXIT_RESUME) from None
except Exception as error:
    failed.parent.mkdir(parents=True, exist_ok=True)
    failed.write_text(f"{type(error).__name__}: {error}\n")
    record(f"failed, {type(error).__name__}: {error}")
    raise
record("finished")
# Tests only: die like a job killed at its time limit right after the training finished
# (the worst moment: every output written), to check that nothing is lost.
if os.environ.get("ISTVT_TEST_KILL_AFTER_TRAINING") and attempt == 1:
    os.kill(os.getpid(), signal.SIGKILL)

"""Train one experiment's model (rule train); selection on validation, resumable.

The training state lives outside the declared outputs (params.state), so a run that is
killed resumes from its last finished epoch when Snakemake reruns the job, also with
another number of GPUs. With ``resources: gpu`` > 1 the job runs ``torchrun`` with one
process per GPU on this node (data-parallel, the same global batch).
"""

import json
import logging
import subprocess
from pathlib import Path

import torch

from istvt.provenance import provenance
from istvt.train import run_job, torchrun_command

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
ex = sm.params.experiment
processes = int(getattr(sm.resources, "gpu", 0) or 0)
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
}
if processes > 1:
    job = Path(sm.params.state).with_name("job.json")
    job.parent.mkdir(parents=True, exist_ok=True)
    job.write_text(json.dumps({**spec, "log": sm.log[0]}, indent=1, default=str))
    cmd = torchrun_command(job, processes)
    logging.info("%d GPUs: %s", processes, " ".join(cmd))
    with open(sm.log[0], "a") as fh:
        done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"torchrun exited with {done.returncode}; see {sm.log[0]}")
else:
    torch.set_num_threads(max(1, sm.threads))
    best = run_job(spec)
    logging.info("selected epoch %d: %s", best["epoch"], best)

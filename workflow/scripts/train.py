"""Train one experiment's model (rule train); selection on validation, resumable.

The training state lives outside the declared outputs (params.state), so a run that is
killed resumes from its last finished epoch when Snakemake reruns the job.
"""

import logging

import torch

from istvt.config import ModelConfig
from istvt.data.manifest import read_manifest
from istvt.provenance import provenance
from istvt.train import TrainConfig, train_experiment

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
torch.set_num_threads(max(1, sm.threads))
ex = sm.params.experiment
best = train_experiment(
    read_manifest(sm.input.manifest),
    sm.input.faces,
    ModelConfig.from_dict(ex["model"]),
    TrainConfig.from_dict(ex["train"]),
    sm.output.model,
    sm.params.state,
    sm.output.log_csv,
    methods=ex["methods"],
    provenance=provenance(sm.config),
)
logging.info("selected epoch %d: %s", best["epoch"], best)

"""Score one trained model on its test set under every clip-level perturbation level of
the robustness grid, in one process (rule evaluate_perturbations)."""

import logging

import torch

from istvt.data.manifest import read_manifest
from istvt.evaluate import evaluate_perturbations
from istvt.provenance import provenance

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
torch.set_num_threads(max(1, sm.threads))
levels = [
    (name, float(level), predictions, metrics)
    for (name, level), predictions, metrics in zip(
        sm.params.grid, sm.output.predictions, sm.output.metrics, strict=True
    )
]
evaluate_perturbations(
    sm.input.model,
    read_manifest(sm.input.manifest),
    sm.input.faces,
    levels,
    methods=sm.params.testset["methods"],
    batch_size=sm.params.evaluate["batch_size"],
    bootstrap=sm.params.evaluate["bootstrap"],
    precision=sm.params.evaluate["precision"],
    seed=sm.params.seed,
    provenance=provenance(sm.config),
    extra={
        "experiment": sm.wildcards.experiment,
        "testset": sm.wildcards.testset,
        "dataset": sm.params.testset["dataset"],
    },
)

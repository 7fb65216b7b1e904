"""Score one trained model on one test set (rule evaluate)."""

import logging

import torch

from istvt.data.manifest import read_manifest
from istvt.evaluate import evaluate
from istvt.provenance import provenance

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
torch.set_num_threads(max(1, sm.threads))
metrics = evaluate(
    sm.input.model,
    read_manifest(sm.input.manifest),
    sm.input.faces,
    sm.output.predictions,
    sm.output.metrics,
    methods=sm.params.testset["methods"],
    batch_size=sm.params.evaluate["batch_size"],
    bootstrap=sm.params.evaluate["bootstrap"],
    precision=sm.params.evaluate["precision"],
    seed=sm.params.seed,
    provenance=provenance(sm.config),
    perturbation=getattr(sm.params, "perturbation", None),
    extra={
        "experiment": sm.wildcards.experiment,
        "testset": sm.wildcards.testset,
        "dataset": sm.params.testset["dataset"],
        **(
            {
                "perturbation": {
                    "name": sm.wildcards.perturbation,
                    "level": float(sm.wildcards.level),
                }
            }
            if hasattr(sm.wildcards, "perturbation")
            else {}
        ),
    },
)
logging.info("%s", {k: metrics[k] for k in ("videos", "scored", "video")})

"""Relevance maps and their faithfulness for one trained model (rule interpret)."""

import logging

import torch

from istvt.data.manifest import read_manifest
from istvt.interpret.experiment import interpret_experiment
from istvt.provenance import provenance

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
torch.set_num_threads(max(1, sm.threads))
summary = interpret_experiment(
    sm.input.model,
    read_manifest(sm.input.manifest),
    sm.input.faces,
    sm.params.faithfulness,
    out_dir=sm.output.markdown.rsplit("/", 1)[0],
    deletion_png=sm.output.figure,
    heatmaps=sm.params.heatmaps,
    methods=sm.params.methods,
    mask_root=sm.params.mask_root,
    provenance=provenance(sm.config),
)
logging.info("\n%s", summary.to_string())

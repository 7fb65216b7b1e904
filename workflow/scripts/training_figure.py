"""Training and validation curves of every experiment (rule training_figure)."""

import logging

import pandas as pd

from istvt.report.figures import training_figure

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
logs = {e: pd.read_csv(p) for e, p in zip(sm.params.experiments, sm.input.logs, strict=True)}
training_figure(logs, sm.output[0])
logging.info("wrote %s", sm.output[0])

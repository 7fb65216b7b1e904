"""Video-level ROC curves of one experiment on its test sets (rule roc_figure)."""

import logging

from istvt.evaluate import read_predictions
from istvt.report.figures import roc_figure

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
tables = {
    t: read_predictions(p) for t, p in zip(sm.params.testsets, sm.input.predictions, strict=True)
}
roc_figure(sm.wildcards.experiment, tables, sm.output[0])
logging.info("wrote %s", sm.output[0])

"""Training and validation curves, one panel per experiment: the configured experiments
in one figure, the ablation models in another (rule training_figure)."""

import logging

import pandas as pd

from istvt.report.figures import training_figure

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
logs = {e: pd.read_csv(p) for e, p in zip(sm.params.experiments, sm.input.logs, strict=True)}
titles = {"main": "training curves", "ablations": "training curves: ablation models"}
for group, members in sm.params.groups.items():
    out = getattr(sm.output, group)
    training_figure({e: logs[e] for e in members}, out, title=titles[group])
    logging.info("wrote %s (%d experiments)", out, len(members))

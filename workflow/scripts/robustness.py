"""Robustness table and curves of one experiment over its training seeds (rule
robustness)."""

import json
import logging

import pandas as pd

from istvt.report.robustness import robustness_figure, robustness_table, table_markdown
from istvt.report.seeds import over_seeds

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
seeds = list(sm.params.seeds)


def read(path):
    with open(path) as fh:
        return json.load(fh)


levels = len(sm.input.perturbed) // len(seeds)  # the inputs come seed by seed
tables = []
for k, (seed, clean) in enumerate(zip(seeds, sm.input.clean, strict=True)):
    perturbed = [read(p) for p in sm.input.perturbed[k * levels : (k + 1) * levels]]
    tables.append(robustness_table(read(clean), perturbed).assign(seed=seed))
long = pd.concat(tables, ignore_index=True)  # the clean row's level is NaN
table = over_seeds(long, ["perturbation", "level"], ["acc", "auc"], seeds)
table.to_csv(sm.output.table, index=False)
with open(sm.output.markdown, "w") as fh:
    fh.write(table_markdown(table, sm.wildcards.name))
robustness_figure(table, sm.output.figure, title=f"robustness: {sm.wildcards.name}")
logging.info("\n%s", table.to_string())

"""Robustness table and curves of one experiment (rule robustness)."""

import json
import logging

from istvt.report.robustness import robustness_figure, robustness_table, table_markdown

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
with open(sm.input.clean) as fh:
    clean = json.load(fh)
perturbed = []
for path in sm.input.perturbed:
    with open(path) as fh:
        perturbed.append(json.load(fh))
table = robustness_table(clean, perturbed)
table.to_csv(sm.output.table, index=False)
with open(sm.output.markdown, "w") as fh:
    fh.write(table_markdown(table, sm.wildcards.experiment))
robustness_figure(table, sm.output.figure, title=f"robustness: {sm.wildcards.experiment}")
logging.info("\n%s", table.to_string())

"""One ablation table (Table III, IV or V) beside the paper (rule ablation_table)."""

import json
import logging

from istvt.report.ablation import ablation_table, table_markdown

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
rows = sm.params.rows
metrics = {}
for row, path in zip(rows, sm.input, strict=True):
    with open(path) as fh:
        metrics[row["experiment"]] = json.load(fh)
frame = ablation_table(sm.wildcards.table, rows, metrics, sm.params.models)
frame.to_csv(sm.output.table, index=False)
with open(sm.output.markdown, "w") as fh:
    fh.write(table_markdown(sm.wildcards.table, frame))
logging.info("\n%s", frame.to_string())

"""One ablation table (Table III, IV or V) beside the paper, every row tested against
the full model on the same test videos (rule ablation_table)."""

import json
import logging

from istvt.evaluate import read_predictions
from istvt.report.ablation import ablation_table, table_markdown

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
rows = sm.params.rows
metrics, predictions = {}, {}
for row, path, scores in zip(rows, sm.input.metrics, sm.input.predictions, strict=True):
    with open(path) as fh:
        metrics[row["experiment"]] = json.load(fh)
    predictions[row["experiment"]] = read_predictions(scores)
frame = ablation_table(sm.wildcards.table, rows, metrics, sm.params.models, predictions)
frame.to_csv(sm.output.table, index=False)
with open(sm.output.markdown, "w") as fh:
    fh.write(table_markdown(sm.wildcards.table, frame))
logging.info("\n%s", frame.to_string())

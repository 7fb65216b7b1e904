"""Write the model's cost table (paper Tables IV-V) and a summary of the configured model.

Run by Snakemake (rule model_card) or by hand:
    python workflow/scripts/model_card.py OUT_TABLE.md OUT_TABLE.csv OUT_SUMMARY.json
"""

import json
import logging
import sys
from pathlib import Path

import pandas as pd

from istvt.config import ModelConfig
from istvt.model.flops import count_macs, flops_table, format_table
from istvt.provenance import git_commit, package_versions


def main(model: dict, table: str, csv: str, summary: str, log: str | None = None) -> None:
    logging.basicConfig(
        filename=log, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    cfg = ModelConfig.from_dict(model)
    rows = flops_table()
    Path(table).parent.mkdir(parents=True, exist_ok=True)
    Path(table).write_text(
        "# Cost per clip: ours beside the paper (Tables IV-V)\n\n" + format_table(rows) + "\n"
    )
    pd.DataFrame(rows).to_csv(csv, index=False)
    cost = count_macs(cfg)
    info = {
        "configured_model": cfg.to_dict(),
        "gmacs_per_clip": round(cost.gmacs, 3),
        "attention_gmacs_per_clip": round(cost.attention / 1e9, 3),
        "parameters": cost.params,
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    Path(summary).parent.mkdir(parents=True, exist_ok=True)
    Path(summary).write_text(json.dumps(info, indent=2) + "\n")
    logging.info("configured model: %.2f GMACs/clip, %d parameters", cost.gmacs, cost.params)


if __name__ == "__main__":
    if "snakemake" in globals():
        sm = globals()["snakemake"]
        main(sm.params.model, sm.output.table, sm.output.csv, sm.output.summary, sm.log[0])
    else:
        main(ModelConfig().to_dict(), *sys.argv[1:4])

"""The demo contact sheet, results/figures/demo_data.png (rule demo_figure)."""

import logging
from pathlib import Path

from istvt.report.figures import demo_contact_sheet

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
demo_contact_sheet(Path(sm.input[0]).parent, sm.output[0])
logging.info("wrote %s from %s", sm.output[0], ", ".join(sm.input))

"""Generate one of the embedded demo data sets (rule demo_data, one job per layout)."""

import logging
from pathlib import Path

from istvt.data.demo import DemoOptions, generate_demo

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
out = Path(sm.output[0])
counts = generate_demo(out.parent, DemoOptions.from_dict(sm.params.options), (out.name,))
logging.info("videos per data set: %s", counts)

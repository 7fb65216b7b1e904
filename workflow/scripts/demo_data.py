"""Generate the embedded demo data sets (rule demo_data)."""

import logging

from istvt.data.demo import DemoOptions, generate_demo

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
counts = generate_demo(sm.output[0], DemoOptions.from_dict(sm.params.options))
logging.info("videos per data set: %s", counts)

"""One experiment's faithfulness tables over its training seeds (rule
faithfulness_seeds)."""

import logging

import pandas as pd

from istvt.fsutil import atomic_path
from istvt.report.seeds import faithfulness_over_seeds

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
tables = {s: pd.read_csv(p) for s, p in zip(sm.params.seeds, sm.input, strict=True)}
df, md = faithfulness_over_seeds(tables, sm.wildcards.name)
with atomic_path(sm.output.table) as tmp:
    df.to_csv(tmp, index=False)
with atomic_path(sm.output.markdown) as tmp:
    tmp.write_text(md)
logging.info("\n%s", md)

"""Read a dataset in its own layout into a manifest table (rule manifest)."""

import logging

from istvt.data.manifest import build_manifest, coverage_markdown, coverage_table, write_manifest

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
df = build_manifest(sm.params.layout, sm.params.root, **sm.params.options)
write_manifest(df, sm.output[0])
logging.info(
    "%d videos; per split and label: %s", len(df), df.groupby(["split", "label"]).size().to_dict()
)
# present against expected videos per split x method x compression (official lists)
coverage = coverage_table(df)
coverage.to_csv(sm.output.coverage, index=False)
text = coverage_markdown(coverage, sm.wildcards.dataset, df)
with open(sm.output.coverage_md, "w") as fh:
    fh.write(text)
logging.info("coverage of %s:\n%s", sm.params.root, text)

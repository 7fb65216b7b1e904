"""Read a dataset in its own layout into a manifest table (rule manifest)."""

import logging

from istvt.data.manifest import build_manifest, coverage_markdown, coverage_table, write_manifest

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
df = build_manifest(sm.params.layout, sm.params.root, **sm.params.options)
# only the splits this plan reads are face-extracted (common.smk, SPLITS_USED)
used = df[df.split.isin(sm.params.splits)]
write_manifest(used, sm.output[0])
logging.info(
    "%d videos; per split and label: %s", len(df), df.groupby(["split", "label"]).size().to_dict()
)
if len(used) < len(df):
    left = df[~df.split.isin(sm.params.splits)].groupby("split").size().to_dict()
    logging.info(
        "the manifest keeps the %s split(s) this plan reads (%d videos); left out, no "
        "experiment reads them: %s",
        "/".join(sm.params.splits),
        len(used),
        left,
    )
# present against expected videos per split x method x compression (official lists)
coverage = coverage_table(df)
coverage.to_csv(sm.output.coverage, index=False)
text = coverage_markdown(coverage, sm.wildcards.dataset, used)
with open(sm.output.coverage_md, "w") as fh:
    fh.write(text)
logging.info("coverage of %s:\n%s", sm.params.root, text)

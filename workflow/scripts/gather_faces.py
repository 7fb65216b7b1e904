"""Gather a face set's shards into its folder with one status table (rules preprocess,
preprocess_length, preprocess_perturbed).

Shards are hard-linked (copied where the file system cannot link), so the per-shard
outputs stay in place and the gathering costs no space or time.
"""

import logging
import os
import shutil
from pathlib import Path

import pandas as pd

from istvt.data.manifest import read_manifest

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
out = Path(sm.output[0])
out.mkdir(parents=True, exist_ok=True)
for src in list(sm.input.shards) + list(sm.input.statuses):
    dst = out / Path(src).name
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
table = pd.concat(
    [pd.read_csv(p, keep_default_na=False) for p in sm.input.statuses], ignore_index=True
)
manifest = read_manifest(sm.input.manifest)
if len(table) != len(manifest):  # the invariant every report relies on
    raise SystemExit(
        f"{sm.output[0]}: {len(table)} status rows for {len(manifest)} videos in "
        f"{sm.input.manifest}; rerun the preprocess_shard jobs"
    )
table.to_csv(out / "status.csv", index=False)
logging.info(
    "%d shards, %d videos: %s",
    len(sm.input.shards),
    len(table),
    table.groupby("status").size().to_dict(),
)

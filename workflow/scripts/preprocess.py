"""Align the face clips of one dataset into shards (rule preprocess).

Shards are built in a work folder outside the declared output (a killed job resumes
there) and moved into the output folder when every shard is done.
"""

import logging
import os
from pathlib import Path

from istvt.data.manifest import read_manifest
from istvt.data.preprocess import PreprocessOptions, preprocess_dataset

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
work, out = Path(sm.params.work), Path(sm.output[0])
table = preprocess_dataset(
    read_manifest(sm.input[0]), PreprocessOptions.from_dict(sm.params.options), work
)
out.mkdir(parents=True, exist_ok=True)
for path in sorted(work.iterdir()):
    os.replace(path, out / path.name)
work.rmdir()
for parent in work.parents:  # nested work folders (length-T/..., perturbed/...): tidy up
    if parent.name in ("faces", "") or any(parent.iterdir()):
        break
    parent.rmdir()
logging.info("%d videos: %s", len(table), table.groupby("status").size().to_dict())

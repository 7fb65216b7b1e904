"""Align the face clips of one shard of a manifest (rule preprocess_shard).

Every video of the shard gets a status row (processed or failed, with the reason);
the shard file and its status table are written atomically, so a killed job leaves
nothing half-written and Snakemake reruns only the shards that are missing.
"""

import logging

from istvt.data.manifest import read_manifest
from istvt.data.preprocess import PreprocessOptions, preprocess_shard, shard_rows

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
options = PreprocessOptions.from_dict(sm.params.options)
rows = shard_rows(read_manifest(sm.input.manifest), options.shard_size, int(sm.wildcards.shard))
table = preprocess_shard(rows, options, sm.output.shard, sm.output.status)
logging.info("%d videos: %s", len(table), table.groupby("status").size().to_dict())

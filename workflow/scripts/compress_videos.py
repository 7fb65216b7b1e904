"""Re-encode the test videos of a data set at one H.264 CRF (rule compress_videos)."""

import logging

from istvt.data.manifest import read_manifest
from istvt.perturb import compress_videos

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
table = compress_videos(
    read_manifest(sm.input[0]),
    sm.params.root,
    sm.params.videos,
    float(sm.wildcards.level),
    sm.output[0],
)
logging.info("%d test videos re-encoded at CRF %s", len(table), sm.wildcards.level)

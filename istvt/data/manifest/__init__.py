"""Dataset readers: each turns a dataset in its own layout into one manifest table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from istvt.data.manifest.celebdf import read_celebdf
from istvt.data.manifest.common import COLUMNS, ManifestError, read_manifest, write_manifest
from istvt.data.manifest.coverage import coverage_markdown, coverage_table
from istvt.data.manifest.deeperforensics import read_deeperforensics
from istvt.data.manifest.dfdc import read_dfdc, read_dfdc_preview, read_dfdc_sample
from istvt.data.manifest.ffpp import read_ffpp
from istvt.data.manifest.folder import read_folder

READERS = {
    "ffpp": read_ffpp,
    "celebdf": read_celebdf,
    "dfdc": read_dfdc,
    "dfdc_preview": read_dfdc_preview,
    "dfdc_sample": read_dfdc_sample,
    "deeperforensics": read_deeperforensics,
    "folder": read_folder,
}


def build_manifest(layout: str, root: str | Path, **options: Any) -> pd.DataFrame:
    """Read dataset ``root`` in ``layout`` (one of :data:`READERS`) into a manifest."""
    if layout not in READERS:
        raise ManifestError(
            f"unknown dataset layout {layout!r}; choose one of {', '.join(READERS)}"
        )
    try:
        return READERS[layout](root, **options)
    except TypeError as exc:  # an option the reader does not take
        raise ManifestError(f"layout {layout!r}: {exc}") from exc


__all__ = [
    "COLUMNS",
    "READERS",
    "ManifestError",
    "build_manifest",
    "coverage_markdown",
    "coverage_table",
    "read_manifest",
    "write_manifest",
]

"""istvt: reproducible pipeline for ISTVT (Zhao et al., IEEE TIFS 2023)."""

from importlib import metadata

try:
    __version__ = metadata.version("istvt")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

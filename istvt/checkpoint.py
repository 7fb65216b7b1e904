"""Checkpoints: a plain dict of tensors and primitives, loadable with ``weights_only=True``.

Layout::

    {"format": "istvt-checkpoint", "format_version": 1,
     "state_dict": {...}, "model_config": {...}, "versions": {...}, "extra": {...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from istvt.config import ModelConfig
from istvt.fsutil import atomic_path
from istvt.model.istvt import ISTVT
from istvt.provenance import package_versions

FORMAT = "istvt-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint cannot be used for the requested model."""


def save_checkpoint(path: str | Path, model: ISTVT, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` atomically (temporary file + rename) to ``path``."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": model.cfg.to_dict(),
        "versions": package_versions(),
        "extra": dict(extra or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load the raw checkpoint dict (``weights_only=True``: never unpickles code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable weights-only checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not an istvt checkpoint (for weights trained with the authors' code "
            f"run `istvt convert-authors {path} OUT.pth` first)"
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {payload['format_version']} is newer than this "
            f"istvt understands ({FORMAT_VERSION}); upgrade istvt"
        )
    return payload


def config_differences(a: ModelConfig, b: ModelConfig) -> dict[str, tuple[Any, Any]]:
    """Architecture fields that differ: ``{key: (a_value, b_value)}``."""
    da, db = a.architecture(), b.architecture()
    return {k: (da[k], db.get(k)) for k in da if da[k] != db.get(k)}


def load_checkpoint(
    path: str | Path, expected: ModelConfig | None = None, map_location: str = "cpu"
) -> ISTVT:
    """Build the model a checkpoint describes and load its weights.

    If ``expected`` is given, its architecture must equal the checkpoint's; otherwise a
    :class:`CheckpointError` names every differing key with both values.
    """
    payload = read_checkpoint(path)
    stored = ModelConfig.from_dict(payload["model_config"], where=f"{path}: model_config")
    if expected is not None:
        diff = config_differences(expected, stored)
        if diff:
            detail = "; ".join(
                f"{k}: requested {a!r}, checkpoint has {b!r}" for k, (a, b) in diff.items()
            )
            raise CheckpointError(
                f"{path}: checkpoint does not match the requested model: {detail}"
            )
    # The stored weights already contain the entry flow: never re-read ImageNet weights.
    model = ISTVT(stored.replace(xception_weights=None))
    model.load_state_dict(payload["state_dict"])
    return model.to(map_location)

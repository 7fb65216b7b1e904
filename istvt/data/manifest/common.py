"""The manifest table every dataset reader yields.

One row per video::

    video_id     unique within the manifest ("Deepfakes/c23/519_515")
    path         absolute path of the video file
    label        0 = real, 1 = fake (everywhere in this project)
    split        train / val / test
    dataset      ffpp / celebdf / dfdc / dfdc_preview / folder
    method       manipulation method, "original" for real videos
    compression  raw / c23 / c40 for FF++, "" where the dataset has one encoding
    identities   "|"-joined identity ids shown in the video (target first)
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS = [
    "video_id",
    "path",
    "label",
    "split",
    "dataset",
    "method",
    "compression",
    "identities",
]
SPLITS = ("train", "val", "test")
#: Official split files shipped with the package (see README, "Running on your data").
OFFICIAL = Path(__file__).resolve().parents[1] / "official"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class ManifestError(ValueError):
    """A dataset folder or metadata file is missing or malformed; names the file."""


def make_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> manifest DataFrame with the standard columns, types and order."""
    df = pd.DataFrame(list(rows), columns=COLUMNS)
    if df.empty:
        return df.astype({"label": "int64"})
    df["label"] = df["label"].astype("int64")
    df = df.fillna({"method": "", "compression": "", "identities": ""})
    df = df.sort_values(["split", "video_id"], kind="stable").reset_index(drop=True)
    duplicated = df["video_id"][df["video_id"].duplicated()]
    if not duplicated.empty:
        raise ManifestError(f"duplicate video ids in manifest: {', '.join(duplicated[:5])}")
    bad = df[~df["label"].isin([0, 1])]
    if not bad.empty:
        raise ManifestError(f"labels must be 0 (real) or 1 (fake): {bad['video_id'].tolist()[:5]}")
    return df


def carve_validation(
    rows: list[dict[str, Any]],
    val_fraction: float,
    seed: int,
    group_of: Callable[[dict[str, Any]], str] = lambda r: r["identities"],
    avoid: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Move whole groups of training rows to ``val``, in place, until ``val_fraction``
    of the training rows have moved (seeded order). A group any of whose videos shows
    an identity in ``avoid`` (e.g. the test identities) never moves."""
    if not 0 <= val_fraction < 1:
        raise ManifestError(f"val_fraction must be in [0, 1), got {val_fraction}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["split"] == "train":
            groups.setdefault(group_of(r), []).append(r)
    eligible = sorted(
        g
        for g, members in groups.items()
        if not any(set(m["identities"].split("|")) & avoid for m in members)
    )
    random.Random(seed).shuffle(eligible)
    target = round(val_fraction * sum(len(m) for m in groups.values()))
    moved = 0
    for g in eligible:
        if moved >= target:
            break
        for m in groups[g]:
            m["split"] = "val"
        moved += len(groups[g])


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise ManifestError(f"{path}: {what} not found; check the dataset root in the config")
    return path


def read_json(path: Path, what: str) -> Any:
    """Load a JSON metadata file, with an error naming it."""
    if not path.is_file():
        raise ManifestError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: malformed {what}: {exc}") from exc


def list_videos(folder: Path) -> list[Path]:
    """Video files directly inside ``folder`` (sorted; hidden files skipped)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
    )


def select_videos(
    manifest: pd.DataFrame, split: str, methods: Iterable[str] | None = None
) -> pd.DataFrame:
    """Rows of ``split``; with ``methods``, the real videos and the fakes of those methods."""
    rows = manifest[manifest.split == split]
    if methods:
        methods = list(methods)
        unknown = sorted(set(methods) - set(manifest.method))
        if unknown:
            raise ValueError(
                f"methods {unknown} are not in the manifest (it has "
                f"{sorted(set(manifest.method) - {'original'})})"
            )
        rows = rows[(rows.label == 0) | rows.method.isin(methods)]
    return rows.reset_index(drop=True)


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def read_manifest(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    df = pd.read_csv(
        path, dtype={"identities": str, "compression": str, "method": str}, keep_default_na=False
    )
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(f"{path}: manifest lacks column(s) {', '.join(missing)}")
    return df

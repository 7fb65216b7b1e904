"""FaceForensics++ in its distributed layout.

::

    <root>/original_sequences/youtube/{raw|c23|c40}/videos/000.mp4
    <root>/original_sequences/actors/{c23|c40}/videos/<actor>__<scene>.mp4
    <root>/manipulated_sequences/<method>/{raw|c23|c40}/videos/<target>_<source>.mp4
    <root>/manipulated_sequences/DeepFakeDetection/{c23|c40}/videos/<t>_<s>__<scene>__<id>.mp4
    <splits>/{train,val,test}.json      [["953", "974"], ...]

A pair [a, b] of a split file puts originals a and b and fakes a_b and b_a in that split.
DeepFakeDetection (and its actor originals) is not in the official splits: it goes to the
split named by ``dfd_split`` (default test, as a held-out set).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from istvt.data.manifest.common import (
    OFFICIAL,
    SPLITS,
    ManifestError,
    list_videos,
    make_table,
    read_json,
    require_dir,
)
from istvt.data.manifest.coverage import attach

log = logging.getLogger(__name__)

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
ALL_METHODS = (*FFPP_METHODS, "FaceShifter", "DeepFakeDetection")
COMPRESSIONS = ("raw", "c23", "c40")
_ALIASES = {"c0": "raw"}


def official_splits_dir(root: Path, splits_dir: str | Path | None = None) -> Path:
    """The split files to use: ``splits_dir`` when given, else ``<root>/splits`` when the
    copy has them, else the official files shipped with istvt (the FaceForensics
    repository's ``dataset/splits``, which the FF++ download script does not fetch)."""
    if splits_dir:
        return Path(splits_dir)
    own = root / "splits"
    if own.is_dir():
        return own
    log.info("FF++: %s has no split files; using the official ones shipped with istvt", root)
    return OFFICIAL / "ffpp-splits"


def read_splits(splits_dir: Path) -> dict[str, str]:
    """Original id -> split, from the official ``{train,val,test}.json``."""
    owner: dict[str, str] = {}
    for split in SPLITS:
        path = splits_dir / f"{split}.json"
        pairs = read_json(path, "FaceForensics++ split file")
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(i, str) for i in p)
            for p in pairs
        ):
            raise ManifestError(f"{path}: expected a JSON list of [id, id] string pairs")
        for pair in pairs:
            for vid in pair:
                if owner.setdefault(vid, split) != split:
                    raise ManifestError(f"{path}: id {vid} is in both {owner[vid]} and {split}")
    return owner


def read_ffpp(
    root: str | Path,
    splits_dir: str | Path | None = None,
    compressions: Sequence[str] = ("c23",),
    methods: Sequence[str] = FFPP_METHODS,
    dfd_split: str = "test",
) -> pd.DataFrame:
    """Manifest of FF++ videos present under ``root``.

    Args:
        root: dataset root (holds ``original_sequences`` / ``manipulated_sequences``).
        splits_dir: folder with ``train/val/test.json`` (default ``<root>/splits``, or
            the official files shipped with istvt when the copy lacks them).
        compressions: any of raw (alias c0), c23, c40.
        methods: manipulation methods to include (see :data:`ALL_METHODS`).
        dfd_split: split for DeepFakeDetection videos, which the official files omit.
    """
    root = require_dir(Path(root), "FaceForensics++ root")
    splits_dir = official_splits_dir(root, splits_dir)
    comps = [_ALIASES.get(c, c) for c in compressions]
    for c in comps:
        if c not in COMPRESSIONS:
            raise ManifestError(f"unknown FF++ compression {c!r}; use raw, c23 or c40")
    for m in methods:
        if m not in ALL_METHODS:
            raise ManifestError(f"unknown FF++ method {m!r}; choose from {', '.join(ALL_METHODS)}")
    if dfd_split not in SPLITS:
        raise ManifestError(f"dfd_split must be one of {SPLITS}, got {dfd_split!r}")

    owner = read_splits(splits_dir)

    rows = []
    unlisted: dict[tuple[str, str], int] = {}
    expected: dict[tuple[str, str, str], int] = {}
    ids_per_split = {split: sum(1 for s in owner.values() if s == split) for split in SPLITS}
    for comp in comps:
        for method in ("original", *(m for m in methods if m != "DeepFakeDetection")):
            for split, n in ids_per_split.items():
                expected[split, method, comp] = n  # pair [a, b]: a, b, a_b and b_a
        originals = root / "original_sequences" / "youtube" / comp / "videos"
        for path in list_videos(originals) if originals.is_dir() else []:
            split = owner.get(path.stem)
            if split is None:
                unlisted["original", comp] = unlisted.get(("original", comp), 0) + 1
                continue
            rows.append(
                _row(path, f"original/{comp}/{path.stem}", 0, split, "original", comp, path.stem)
            )
        for method in methods:
            folder = root / "manipulated_sequences" / method / comp / "videos"
            if not folder.is_dir():
                log.warning("FF++: %s missing, skipping %s/%s", folder, method, comp)
                continue
            for path in list_videos(folder):
                if method == "DeepFakeDetection":
                    ids = path.stem.split("__")[0].split("_")
                    split = dfd_split
                else:
                    ids = path.stem.split("_")
                    if len(ids) != 2:
                        raise ManifestError(f"{path}: expected <target>_<source>.mp4")
                    split = owner.get(ids[0])
                    if split is None or owner.get(ids[1]) != split:
                        unlisted[method, comp] = unlisted.get((method, comp), 0) + 1
                        continue
                rows.append(
                    _row(
                        path, f"{method}/{comp}/{path.stem}", 1, split, method, comp, "|".join(ids)
                    )
                )
        if "DeepFakeDetection" in methods:
            actors = root / "original_sequences" / "actors" / comp / "videos"
            for path in list_videos(actors) if actors.is_dir() else []:
                rows.append(
                    _row(
                        path,
                        f"actors/{comp}/{path.stem}",
                        0,
                        dfd_split,
                        "original",
                        comp,
                        path.stem.split("__")[0],
                    )
                )
    if unlisted:
        log.warning(
            "FF++: %d video(s) are in no official split and were left out",
            sum(unlisted.values()),
        )
    df = attach(make_table(rows), expected, unlisted)
    if df.empty:
        raise ManifestError(
            f"{root}: no FaceForensics++ videos found for compression(s) {', '.join(comps)} "
            f"and method(s) {', '.join(methods)}"
        )
    return df


def _row(path: Path, vid: str, label: int, split: str, method: str, comp: str, ids: str) -> dict:
    return {
        "video_id": vid,
        "path": str(path.resolve()),
        "label": label,
        "split": split,
        "dataset": "ffpp",
        "method": method,
        "compression": comp,
        "identities": ids,
    }

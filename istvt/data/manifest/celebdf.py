"""Celeb-DF v2 in its distributed layout.

::

    <root>/Celeb-real/id{N}_{NNNN}.mp4            real
    <root>/YouTube-real/{NNNNN}.mp4               real
    <root>/Celeb-synthesis/id{t}_id{s}_{NNNN}.mp4 fake
    <root>/List_of_testing_videos.txt             "<lab> <folder>/<file>.mp4", 1 = REAL

The official list marks real videos with 1 (the opposite of this project's labels);
we take the label from the folder and check it against the list. Everything not listed
is training data; a validation split is carved from it with no identity shared with the
test split (seeded, ``val_fraction`` of the training videos).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from istvt.data.manifest.common import (
    OFFICIAL,
    ManifestError,
    carve_validation,
    list_videos,
    make_table,
    require_dir,
)
from istvt.data.manifest.coverage import attach

FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}
#: Videos per folder in the Celeb-DF v2 release (590 + 300 real, 5,639 fake).
RELEASE_SIZES = {"Celeb-real": 590, "YouTube-real": 300, "Celeb-synthesis": 5639}
TEST_LIST = "List_of_testing_videos.txt"
log = logging.getLogger(__name__)


def identities(folder: str, stem: str) -> list[str]:
    """Identity ids in a Celeb-DF video name (target first)."""
    if folder == "YouTube-real":
        return [f"yt{stem}"]
    parts = stem.split("_")
    ids = [p for p in parts if p.startswith("id")]
    if not ids:
        raise ManifestError(f"{folder}/{stem}: unexpected Celeb-DF file name")
    return ids


def official_test_list(root: Path, test_list: str | Path | None = None) -> Path:
    """``test_list`` when given, else the copy's own list, else the official Celeb-DF v2
    list shipped with istvt (for copies that lost it)."""
    if test_list:
        return Path(test_list)
    own = root / TEST_LIST
    if own.is_file():
        return own
    log.info("Celeb-DF: %s has no %s; using the official list shipped with istvt", root, TEST_LIST)
    return OFFICIAL / "celebdf-v2" / TEST_LIST


def read_test_list(path: Path) -> dict[str, int]:
    """``folder/file.mp4`` -> our label (0 real / 1 fake) from the official list."""
    if not path.is_file():
        raise ManifestError(f"{path}: Celeb-DF test list (List_of_testing_videos.txt) not found")
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1") or "/" not in parts[1]:
            raise ManifestError(f"{path}:{n}: expected '<0|1> <folder>/<file>.mp4', got {line!r}")
        out[parts[1]] = 1 - int(parts[0])  # the list says 1 = real
    return out


def read_celebdf(
    root: str | Path,
    test_list: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    root = require_dir(Path(root), "Celeb-DF root")
    test_path = official_test_list(root, test_list)
    test = read_test_list(test_path)
    rows = []
    for folder, label in FOLDERS.items():
        directory = root / folder
        if not directory.is_dir():
            continue
        for path in list_videos(directory):
            rel = f"{folder}/{path.name}"
            if rel in test and test[rel] != label:
                raise ManifestError(
                    f"{test_path}: {rel} is listed as "
                    f"{'real' if test[rel] == 0 else 'fake'} but lies in {folder}"
                )
            rows.append(
                {
                    "video_id": f"{folder}/{path.stem}",
                    "path": str(path.resolve()),
                    "label": label,
                    "split": "test" if rel in test else "train",
                    "dataset": "celebdf",
                    "method": "original" if label == 0 else "Celeb-synthesis",
                    "compression": "",
                    "identities": "|".join(identities(folder, path.stem)),
                }
            )
    if not rows:
        raise ManifestError(f"{root}: no videos in {', '.join(FOLDERS)}")
    test_ids = {i for r in rows if r["split"] == "test" for i in r["identities"].split("|")}
    carve_validation(
        rows, val_fraction, seed, group_of=lambda r: r["identities"].split("|")[0], avoid=test_ids
    )
    # the release's folder sizes say what the training pool should hold only where the
    # test list is the official one (a copy in this layout with its own list: unknown)
    official = test == read_test_list(OFFICIAL / "celebdf-v2" / TEST_LIST)
    expected: dict[tuple[str, str, str], int] = {}
    for folder, label in FOLDERS.items():
        method = "original" if label == 0 else "Celeb-synthesis"
        listed = sum(1 for rel in test if rel.split("/")[0] == folder)
        pools = [("test", listed)]
        if official:
            pools.append(("train+val", RELEASE_SIZES[folder] - listed))
        for split, n in pools:
            expected[split, method, ""] = expected.get((split, method, ""), 0) + n
    return attach(make_table(rows), expected, pooled=("train", "val"))

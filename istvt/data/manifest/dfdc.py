"""DFDC (full challenge set) and DFDC Preview in their distributed layouts.

DFDC::

    <root>/dfdc_train_part_{0..49}/metadata.json + *.mp4
        {"abc.mp4": {"label": "FAKE"|"REAL", "split": "train", "original": "src.mp4"|null}}
    <root>/test/*.mp4 + labels.csv (filename,label; 1 = fake)
                      or metadata.json {"x.mp4": {"is_fake": 0|1, ...}}

Validation is carved from the training parts: whole parts named by ``val_parts``, or
else a seeded ``val_fraction`` of the "original" groups (a real video together with
every fake made from it). ``test_subset`` optionally names a text file of test file
names (one per line) to restrict the test split to a published subset.

Kaggle's public DFDC sample (:func:`read_dfdc_sample`)::

    <root>/train_sample_videos/metadata.json + *.mp4   (400 labelled videos)

DFDC Preview::

    <root>/dataset.json  {"method_A/.../x.mp4": {"label": "real"|"fake", "set": "train"|"test"}}
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from istvt.data.manifest.common import (
    ManifestError,
    carve_validation,
    list_videos,
    make_table,
    read_json,
    require_dir,
)
from istvt.data.manifest.coverage import attach

_PART = re.compile(r"^dfdc_train_part_(\d+)$")


def _label(value, path: Path, name: str) -> int:
    text = str(value).strip().upper()
    if text in ("FAKE", "1"):
        return 1
    if text in ("REAL", "0"):
        return 0
    raise ManifestError(f"{path}: entry {name!r} has label {value!r}; expected FAKE/REAL or 1/0")


def _test_labels(test_dir: Path) -> dict[str, int]:
    labels_csv = test_dir / "labels.csv"
    if labels_csv.is_file():
        with labels_csv.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"filename", "label"} <= set(reader.fieldnames):
                raise ManifestError(f"{labels_csv}: expected columns 'filename,label'")
            return {r["filename"]: _label(r["label"], labels_csv, r["filename"]) for r in reader}
    meta = test_dir / "metadata.json"
    if meta.is_file():
        data = read_json(meta, "DFDC test metadata")
        out = {}
        for name, entry in data.items():
            if not isinstance(entry, dict) or ("is_fake" not in entry and "label" not in entry):
                raise ManifestError(f"{meta}: entry {name!r} has no 'is_fake' or 'label'")
            out[name] = _label(entry.get("is_fake", entry.get("label")), meta, name)
        return out
    raise ManifestError(f"{test_dir}: DFDC test labels not found (labels.csv or metadata.json)")


def read_dfdc(
    root: str | Path,
    val_parts: Sequence[int] = (),
    val_fraction: float = 0.1,
    test_subset: str | Path | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    root = require_dir(Path(root), "DFDC root")
    rows = []
    parts = sorted(
        (int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _PART.match(p.name))
    )
    expected: dict[tuple[str, str, str], int] = {}
    unlisted: dict[tuple[str, str], int] = {}
    val_parts = set(val_parts)
    for number, part in parts:
        part_rows = _metadata_rows(part, part.name, expected, unlisted)
        for r in part_rows:
            r["split"] = "val" if number in val_parts else "train"
        rows += part_rows
    if not val_parts:
        carve_validation(rows, val_fraction, seed)
    test_dir = root / "test"
    if test_dir.is_dir():
        labels = _test_labels(test_dir)
        keep = None
        if test_subset:
            subset = Path(test_subset)
            if not subset.is_file():
                raise ManifestError(f"{subset}: DFDC test subset list not found")
            keep = {line.strip() for line in subset.read_text().splitlines() if line.strip()}
            unknown = sorted(keep - set(labels))
            if unknown:
                raise ManifestError(
                    f"{subset}: {len(unknown)} name(s) have no test label, e.g. {unknown[:3]}"
                )
        for name, label in sorted(labels.items()):
            if keep is not None and name not in keep:
                continue
            key = ("test", "original" if label == 0 else "dfdc", "")
            expected[key] = expected.get(key, 0) + 1
            path = test_dir / name
            if not path.is_file():
                continue
            rows.append(
                {
                    "video_id": f"test/{Path(name).stem}",
                    "path": str(path.resolve()),
                    "label": label,
                    "split": "test",
                    "dataset": "dfdc",
                    "method": "original" if label == 0 else "dfdc",
                    "compression": "",
                    "identities": f"test/{Path(name).stem}",
                }
            )
    if not rows:
        raise ManifestError(f"{root}: no DFDC videos found (dfdc_train_part_*/ or test/)")
    return attach(make_table(rows), expected, unlisted, pooled=("train", "val"))


def _metadata_rows(
    folder: Path,
    prefix: str,
    expected: dict[tuple[str, str, str], int],
    unlisted: dict[tuple[str, str], int],
) -> list[dict]:
    """Training rows of a folder of videos with the DFDC ``metadata.json`` (a challenge
    part, or Kaggle's ``train_sample_videos``); counts listed and unlisted videos."""
    meta_path = folder / "metadata.json"
    meta = read_json(meta_path, "DFDC metadata.json")
    if not isinstance(meta, dict):
        raise ManifestError(f"{meta_path}: expected a JSON object of file -> entry")
    rows = []
    for name, entry in sorted(meta.items()):
        if not isinstance(entry, dict) or "label" not in entry:
            raise ManifestError(f"{meta_path}: entry {name!r} has no 'label'")
        label = _label(entry["label"], meta_path, name)
        method = "original" if label == 0 else "dfdc"
        expected["train+val", method, ""] = expected.get(("train+val", method, ""), 0) + 1
        path = folder / name
        if not path.is_file():
            continue  # metadata lists the whole part; users may hold a subset
        original = entry.get("original") or name
        rows.append(
            {
                "video_id": f"{prefix}/{Path(name).stem}",
                "path": str(path.resolve()),
                "label": label,
                "split": "train",
                "dataset": "dfdc",
                "method": method,
                "compression": "",
                "identities": f"{prefix}/{Path(original).stem}",
            }
        )
    extra = [p for p in list_videos(folder) if p.name not in meta]
    if extra:
        unlisted["unknown", ""] = unlisted.get(("unknown", ""), 0) + len(extra)
    return rows


def read_dfdc_sample(
    root: str | Path, val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    """Kaggle's public DFDC sample: ``<root>/train_sample_videos/*.mp4 + metadata.json``
    (``root`` may also be that folder itself). Its 400 labelled videos are training data;
    a validation split (and, with ``test_fraction``, a test split) is carved from them by
    whole "original" groups (a real video with every fake made from it), seeded. The
    unlabelled ``test_videos/`` are not read."""
    root = require_dir(Path(root), "DFDC sample root")
    folder = root / "train_sample_videos"
    if not folder.is_dir() and (root / "metadata.json").is_file():
        folder = root
    if not (folder / "metadata.json").is_file():
        raise ManifestError(
            f"{root}: expected train_sample_videos/metadata.json (Kaggle's DFDC sample)"
        )
    if not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ManifestError(
            f"val_fraction + test_fraction must be below 1, got {val_fraction} + {test_fraction}"
        )
    expected: dict[tuple[str, str, str], int] = {}
    unlisted: dict[tuple[str, str], int] = {}
    rows = _metadata_rows(folder, "train_sample_videos", expected, unlisted)
    if not rows:
        raise ManifestError(f"{folder}: none of the videos listed in metadata.json exist")
    pooled = ["train", "val"]
    if test_fraction:
        carve_validation(rows, test_fraction, seed + 1)
        for r in rows:
            r["split"] = "test" if r["split"] == "val" else r["split"]
        pooled.append("test")
    # val_fraction is a share of all videos, also when a test split was carved first
    remaining = sum(r["split"] == "train" for r in rows)
    carve_validation(rows, min(val_fraction * len(rows) / max(remaining, 1), 0.99), seed)
    expected = {("+".join(pooled), m, c): n for (_, m, c), n in expected.items()}
    return attach(make_table(rows), expected, unlisted, pooled=pooled)


def read_dfdc_preview(root: str | Path, val_fraction: float = 0.1, seed: int = 0) -> pd.DataFrame:
    root = require_dir(Path(root), "DFDC Preview root")
    meta_path = root / "dataset.json"
    meta = read_json(meta_path, "DFDC Preview dataset.json")
    if not isinstance(meta, dict):
        raise ManifestError(f"{meta_path}: expected a JSON object of path -> entry")
    rows = []
    expected: dict[tuple[str, str, str], int] = {}
    for rel, entry in sorted(meta.items()):
        if not isinstance(entry, dict) or "label" not in entry or "set" not in entry:
            raise ManifestError(f"{meta_path}: entry {rel!r} needs 'label' and 'set'")
        if entry["set"] not in ("train", "test"):
            raise ManifestError(f"{meta_path}: entry {rel!r} has set {entry['set']!r}")
        label = _label(entry["label"], meta_path, rel)
        top = Path(rel).parts[0]
        key = (
            "train+val" if entry["set"] == "train" else "test",
            "original" if label == 0 else top,
            "",
        )
        expected[key] = expected.get(key, 0) + 1
        path = root / rel
        if not path.is_file():
            continue
        ident = entry.get("target_id") or (
            Path(rel).parts[1] if len(Path(rel).parts) > 2 else Path(rel).stem
        )
        rows.append(
            {
                "video_id": str(Path(rel).with_suffix("")),
                "path": str(path.resolve()),
                "label": label,
                "split": entry["set"],
                "dataset": "dfdc_preview",
                "method": "original" if label == 0 else top,
                "compression": "",
                "identities": str(ident),
            }
        )
    if not rows:
        raise ManifestError(f"{root}: none of the videos listed in dataset.json exist")
    test_ids = {r["identities"] for r in rows if r["split"] == "test"}
    carve_validation(rows, val_fraction, seed, avoid=test_ids)
    return attach(make_table(rows), expected, pooled=("train", "val"))

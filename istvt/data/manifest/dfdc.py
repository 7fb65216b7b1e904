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
    make_table,
    read_json,
    require_dir,
)

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
    for number, part in parts:
        meta_path = part / "metadata.json"
        meta = read_json(meta_path, "DFDC part metadata.json")
        if not isinstance(meta, dict):
            raise ManifestError(f"{meta_path}: expected a JSON object of file -> entry")
        for name, entry in sorted(meta.items()):
            if not isinstance(entry, dict) or "label" not in entry:
                raise ManifestError(f"{meta_path}: entry {name!r} has no 'label'")
            path = part / name
            if not path.is_file():
                continue  # metadata lists the whole part; users may hold a subset
            label = _label(entry["label"], meta_path, name)
            original = entry.get("original") or name
            rows.append(
                {
                    "video_id": f"{part.name}/{Path(name).stem}",
                    "path": str(path.resolve()),
                    "label": label,
                    "split": "val" if number in set(val_parts) else "train",
                    "dataset": "dfdc",
                    "method": "original" if label == 0 else "dfdc",
                    "compression": "",
                    "identities": f"{part.name}/{Path(original).stem}",
                }
            )
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
    return make_table(rows)


def read_dfdc_preview(root: str | Path, val_fraction: float = 0.1, seed: int = 0) -> pd.DataFrame:
    root = require_dir(Path(root), "DFDC Preview root")
    meta_path = root / "dataset.json"
    meta = read_json(meta_path, "DFDC Preview dataset.json")
    if not isinstance(meta, dict):
        raise ManifestError(f"{meta_path}: expected a JSON object of path -> entry")
    rows = []
    for rel, entry in sorted(meta.items()):
        if not isinstance(entry, dict) or "label" not in entry or "set" not in entry:
            raise ManifestError(f"{meta_path}: entry {rel!r} needs 'label' and 'set'")
        if entry["set"] not in ("train", "test"):
            raise ManifestError(f"{meta_path}: entry {rel!r} has set {entry['set']!r}")
        path = root / rel
        if not path.is_file():
            continue
        label = _label(entry["label"], meta_path, rel)
        top = Path(rel).parts[0]
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
    return make_table(rows)

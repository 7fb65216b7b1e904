"""DeeperForensics-1.0 in its distributed layout (after the release's ``unzip.sh``).

::

    <root>/manipulated_videos/<variant>/<FF++ target id>_<actor id>.mp4   fake (DF-VAE)
    <root>/source_videos/...                   the 100 actors' recordings (not read)
    <root>/lists/splits/{train,val,test}.txt   official split: one fake name per line

The fakes swap an actor's face onto a FaceForensics++ YouTube target video, so the real
counterparts are those FF++ originals (``ffpp_root``, ``compression``). ``variant``
``end_to_end`` is the clean swap; the other folders are its perturbed versions.

``splits="ffpp"`` (default) follows the cross-dataset protocol of LipForensics and FTCN,
beside which the ISTVT paper prints its Table II figure: a fake takes the FF++ official
split of its target video, and the reals are the FF++ originals of that split (the test
split: 140 fakes against 140 originals). ``splits="official"`` uses the release's own
lists for the fakes, and the FF++ originals of their targets as reals.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from istvt.data.manifest.common import (
    SPLITS,
    ManifestError,
    list_videos,
    make_table,
    require_dir,
)
from istvt.data.manifest.coverage import attach
from istvt.data.manifest.ffpp import official_splits_dir, read_splits

METHOD = "DeeperForensics"


def _target(stem: str) -> str | None:
    """The FF++ target id of a fake's name, or None when the name is not of the form
    ``<3-digit FF++ id>_<actor>``."""
    target = stem.split("_")[0]
    return target if len(target) == 3 and target.isdigit() and "_" in stem else None


def _official_lists(root: Path) -> dict[str, str]:
    """Fake name (stem) -> split, from ``lists/splits/{train,val,test}.txt``."""
    folder = root / "lists" / "splits"
    owner: dict[str, str] = {}
    for split in SPLITS:
        path = folder / f"{split}.txt"
        if not path.is_file():
            raise ManifestError(f"{path}: DeeperForensics split list not found")
        for line in path.read_text().splitlines():
            name = Path(line.strip()).stem
            if name and owner.setdefault(name, split) != split:
                raise ManifestError(f"{path}: {name} is in both {owner[name]} and {split}")
    return owner


def read_deeperforensics(
    root: str | Path,
    ffpp_root: str | Path | None = None,
    variant: str = "end_to_end",
    compression: str = "c23",
    splits: str = "ffpp",
    ffpp_splits_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Manifest of the DeeperForensics fakes of ``variant`` and their FF++ originals."""
    root = require_dir(Path(root), "DeeperForensics-1.0 root")
    if ffpp_root is None:
        raise ManifestError(
            f"{root}: DeeperForensics needs the option ffpp_root (the FaceForensics++ copy "
            f"whose YouTube originals are the real counterparts of its fakes)"
        )
    ffpp_root = require_dir(Path(ffpp_root), "FaceForensics++ root (option ffpp_root)")
    fakes_dir = require_dir(
        root / "manipulated_videos" / variant, f"DeeperForensics variant {variant!r}"
    )
    if splits not in ("ffpp", "official"):
        raise ManifestError(f"DeeperForensics splits must be 'ffpp' or 'official', got {splits!r}")
    ffpp_owner = read_splits(official_splits_dir(ffpp_root, ffpp_splits_dir))
    if splits == "ffpp":
        fake_split = ffpp_owner  # keyed by target id
        target_split = ffpp_owner
        expected_fakes = {s: sum(v == s for v in ffpp_owner.values()) for s in SPLITS}
    else:
        listed = _official_lists(root)
        fake_split = listed  # keyed by fake name
        bad = sorted(name for name in listed if _target(name) is None)
        if bad:
            raise ManifestError(
                f"{root / 'lists' / 'splits'}: expected <FF++ target id>_<actor id> names, "
                f"got {', '.join(bad[:3])}"
            )
        target_split = {_target(name): s for name, s in listed.items()}
        expected_fakes = {s: sum(v == s for v in listed.values()) for s in SPLITS}

    rows, unlisted = [], 0
    for path in list_videos(fakes_dir):
        target = _target(path.stem)
        split = fake_split.get(target if splits == "ffpp" else path.stem) if target else None
        if split is None:
            unlisted += 1
            continue
        rows.append(
            {
                "video_id": f"{METHOD}/{variant}/{path.stem}",
                "path": str(path.resolve()),
                "label": 1,
                "split": split,
                "dataset": "deeperforensics",
                "method": METHOD,
                "compression": "",
                "identities": "|".join(path.stem.split("_")[:2]),
            }
        )
    originals = ffpp_root / "original_sequences" / "youtube" / compression / "videos"
    for target, split in sorted(target_split.items()):
        path = originals / f"{target}.mp4"
        if path.is_file():
            rows.append(
                {
                    "video_id": f"original/{compression}/{target}",
                    "path": str(path.resolve()),
                    "label": 0,
                    "split": split,
                    "dataset": "deeperforensics",
                    "method": "original",
                    "compression": compression,
                    "identities": target,
                }
            )
    if not rows:
        raise ManifestError(f"{fakes_dir}: no DeeperForensics videos found, and no FF++ originals")
    expected = {(s, METHOD, ""): n for s, n in expected_fakes.items()}
    for s in SPLITS:
        expected[s, "original", compression] = sum(v == s for v in target_split.values())
    return attach(make_table(rows), expected, {(METHOD, ""): unlisted})

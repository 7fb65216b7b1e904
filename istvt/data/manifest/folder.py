"""The generic layout for any other data: ``<root>/{train,val,test}/{real,fake}/*.mp4``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from istvt.data.manifest.common import SPLITS, ManifestError, list_videos, make_table, require_dir


def read_folder(root: str | Path, name: str = "folder") -> pd.DataFrame:
    root = require_dir(Path(root), "video folder root")
    rows = []
    for split in SPLITS:
        for cls, label in (("real", 0), ("fake", 1)):
            directory = root / split / cls
            if not directory.is_dir():
                continue
            for path in list_videos(directory):
                rows.append(
                    {
                        "video_id": f"{split}/{cls}/{path.stem}",
                        "path": str(path.resolve()),
                        "label": label,
                        "split": split,
                        "dataset": name,
                        "method": "original" if label == 0 else "fake",
                        "compression": "",
                        "identities": path.stem,
                    }
                )
    if not rows:
        raise ManifestError(
            f"{root}: no videos found; expected <root>/{{train,val,test}}/{{real,fake}}/*.mp4"
        )
    return make_table(rows)

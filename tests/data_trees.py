"""Miniature copies of the benchmark data sets' layouts with placeholder files (the
readers list files and read metadata; they never decode a video). No split files or
test lists: the official ones shipped with istvt apply."""

from __future__ import annotations

import json
from pathlib import Path

#: One official FF++ pair per split (from the shipped split files).
FFPP_PAIRS = {"train": ("071", "054"), "val": ("720", "672"), "test": ("953", "974")}
FFPP_ALL = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00")
    return path


def ffpp_tree(root: Path, compressions=("c23", "c40"), methods=FFPP_ALL, pairs=FFPP_PAIRS) -> Path:
    for comp in compressions:
        for a, b in pairs.values():
            for vid in (a, b):
                touch(root / "original_sequences" / "youtube" / comp / "videos" / f"{vid}.mp4")
            for method in methods:
                folder = root / "manipulated_sequences" / method / comp / "videos"
                touch(folder / f"{a}_{b}.mp4")
                touch(folder / f"{b}_{a}.mp4")
    return root


def celebdf_tree(root: Path) -> Path:
    # two official test videos (YouTube-real/00170 is real, id1_id0_0007 fake) and ten
    # training videos of identities the test split does not show
    touch(root / "YouTube-real" / "00170.mp4")
    touch(root / "Celeb-synthesis" / "id1_id0_0007.mp4")
    for k in range(5):
        touch(root / "Celeb-real" / f"id{60 + k}_0000.mp4")
        touch(root / "Celeb-synthesis" / f"id{60 + k}_id{61 + k}_0000.mp4")
    return root


def dfdc_preview_tree(root: Path) -> Path:
    meta = {}
    for k in range(10):
        for label, top in (("real", "original_videos"), ("fake", "method_A")):
            rel = f"{top}/{k}/{label}{k}.mp4"
            touch(root / rel)
            meta[rel] = {"label": label, "set": "test" if k < 2 else "train"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def dfdc_tree(root: Path) -> Path:
    part = root / "dfdc_train_part_0"
    meta = {}
    for k in range(10):
        touch(part / f"real{k}.mp4")
        touch(part / f"fake{k}.mp4")
        meta[f"real{k}.mp4"] = {"label": "REAL", "split": "train", "original": None}
        meta[f"fake{k}.mp4"] = {"label": "FAKE", "split": "train", "original": f"real{k}.mp4"}
    (part / "metadata.json").write_text(json.dumps(meta))
    lines = ["filename,label"]
    for name, label in (("t0.mp4", 0), ("t1.mp4", 1)):
        touch(root / "test" / name)
        lines.append(f"{name},{label}")
    (root / "test" / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def deeperforensics_tree(root: Path, pairs=FFPP_PAIRS) -> Path:
    """Fakes onto the FF++ targets of ``pairs`` (their originals: ffpp_tree)."""
    for a, b in pairs.values():
        for target, actor in ((a, "M101"), (b, "W102")):
            touch(root / "manipulated_videos" / "end_to_end" / f"{target}_{actor}.mp4")
    return root


def paper_trees(base: Path) -> dict[str, Path]:
    """A root for every data set of config/paper.yaml."""
    return {
        "ffpp": ffpp_tree(base / "FaceForensics++"),
        "celebdf": celebdf_tree(base / "Celeb-DF-v2"),
        "dfdc_preview": dfdc_preview_tree(base / "dfdc_preview"),
        "dfdc": dfdc_tree(base / "dfdc"),
        "deeperforensics": deeperforensics_tree(base / "DeeperForensics-1.0"),
    }

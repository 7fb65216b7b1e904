"""How much the face track shakes, real clips against fake clips, per data set.

A clip's shake is the largest frame-to-frame move of its crop centre (dlib's nose tip)
as a fraction of the crop's side (:func:`istvt.data.faces.clip_shake`). On real data
sets a fake and its target video track alike; a demo whose fakes shake more hands a
temporal model a cue that says nothing about the face.

    # the demo, generated afresh at the default config's sizes (--identities: fewer people)
    python benchmarks/track_jitter.py --demo --identities 24
    # the shards of a finished run (every clip the run extracted)
    python benchmarks/track_jitter.py --shards results/faces
    # real videos in their data sets' layouts (FF++ and DFDC folders)
    python benchmarks/track_jitter.py --videos ../shared/data/samples

Prints one Markdown table: clips, median and 95th percentile of the shake, and the
share of clips moving more than 10 % and 15 % of the box, per data set and kind.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from istvt.data.faces import clip_shake  # noqa: E402
from istvt.data.preprocess import PreprocessOptions, process_video  # noqa: E402

FFPP_KIND = re.compile(r"manipulated_sequences/([^/]+)/")


def row(name: str, kind: str, shakes: list[float]) -> str:
    v = np.asarray(shakes)
    return (
        f"| {name} | {kind} | {len(v)} | {np.median(v):.3f} | {np.percentile(v, 95):.3f} "
        f"| {100 * np.mean(v > 0.10):.1f} | {100 * np.mean(v > 0.15):.1f} |"
    )


def print_table(groups: dict[tuple[str, str], list[float]]) -> None:
    print("| data set | kind | clips | median | p95 | > 0.10 (%) | > 0.15 (%) |")
    print("|---|---|---|---|---|---|---|")
    order = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "real", kv[0][1]))
    for (name, kind), shakes in order:
        if shakes:
            print(row(name, kind, shakes))


def kind_of(relative: str, labels: dict[str, str]) -> str:
    """real, fake or the FF++ method of a video path inside its data set's root."""
    found = FFPP_KIND.search(relative)
    if found:
        return found.group(1)
    parts = relative.split("/")
    if "original_sequences" in parts or "real" in parts[0].lower() or "real" in parts[:-1]:
        return "real"
    if "synthesis" in relative:
        return "fake"
    return labels.get(relative, "fake")


def dfdc_labels(root: Path) -> dict[str, str]:
    labels = {}
    for meta in root.rglob("metadata.json"):
        for name, entry in json.loads(meta.read_text()).items():
            rel = (meta.parent / name).relative_to(root).as_posix()
            labels[rel] = "real" if entry["label"] == "REAL" else "fake"
    for table in root.rglob("labels.csv"):
        for line in table.read_text().splitlines()[1:]:
            name, label = line.split(",")[:2]
            rel = (table.parent / name).relative_to(root).as_posix()
            labels[rel] = "real" if label.strip() == "0" else "fake"
    return labels


def track_videos(root: Path, name: str, options: PreprocessOptions, groups) -> int:
    from istvt.data.demo import load_kinds

    labels = dfdc_labels(root)
    for video, kind in load_kinds(root).items():  # the demo DFDC's kinds of fake
        labels[f"{video}.mp4"] = kind
    videos = sorted(root.rglob("*.mp4"))
    t0 = time.perf_counter()
    for n, path in enumerate(videos, 1):
        rel = path.relative_to(root).as_posix()
        status, clips = process_video(str(path), options)
        if clips:
            boxes = np.stack([clip.boxes for _, clip in clips])
            groups[(name, kind_of(rel, labels))].extend(clip_shake(boxes).tolist())
        if n % 25 == 0 or n == len(videos):
            rate = (time.perf_counter() - t0) / n
            print(
                f"# {name}: {n}/{len(videos)} videos, {rate:.2f} s/video, "
                f"ETA {rate * (len(videos) - n):.0f} s",
                file=sys.stderr,
                flush=True,
            )
    return len(videos)


def config_options(config: dict, dataset: str) -> PreprocessOptions:
    """The run's preprocessing options for ``dataset``, every clip of each video."""
    merged = {
        **config["preprocess"],
        **(config["datasets"][dataset].get("preprocess") or {}),
        "sequence_length": config["model"]["sequence_length"],
        "image_size": config["model"]["image_size"],
        "clips_per_video": "all",
    }
    return PreprocessOptions.from_dict(merged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="generate the demo and track it")
    source.add_argument("--shards", type=Path, help="a run's results/faces folder")
    source.add_argument("--videos", type=Path, help="FF++ / DFDC folders in their layouts")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--identities", type=int, help="demo people (default: the config's)")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    if args.shards:
        from istvt.data.demo import load_kinds

        for shard in sorted(args.shards.glob("*/shard-*.npz")):
            name = shard.parent.name
            entry = config["datasets"].get(name, {})
            kinds = load_kinds(entry["root"]) if entry.get("demo") else {}
            with np.load(shard) as f:
                shakes = clip_shake(f["boxes"]) if len(f["boxes"]) else []
                for vid, label, s in zip(f["video_ids"], f["labels"], shakes, strict=True):
                    parts = str(vid).split("/")
                    method = parts[0] if len(parts) == 3 and parts[1][:1] == "c" else "fake"
                    kind = "real" if label == 0 else kinds.get(str(vid), method)
                    groups[(name, kind)].append(float(s))
    elif args.videos:
        for folder in sorted(p for p in args.videos.iterdir() if p.is_dir()):
            track_videos(
                folder,
                folder.name,
                PreprocessOptions(clips_per_video="all", max_frames=270),
                groups,
            )
    else:
        from istvt.data.demo import DemoOptions, generate_demo

        demo = dict(config["demo"])
        if args.identities:
            demo["identities"] = args.identities
        opts = DemoOptions.from_dict(demo)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            generate_demo(tmp, opts)
            print(f"# demo generated in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            for dataset, entry in config["datasets"].items():
                if entry.get("demo"):
                    folder = Path(tmp) / Path(entry["root"]).name
                    track_videos(folder, dataset, config_options(config, dataset), groups)
    print_table(groups)


if __name__ == "__main__":
    main()

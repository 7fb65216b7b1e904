"""What each scoring path does to a trained model's numbers: every model of a finished
run scored on its test sets along fp32, bf16 autocast and dynamic int8, one after
another in this process. Per model and test set: the video AUC of each path, its
largest clip-score and video-score difference from fp32, and its seconds per clip
against fp32's.

    python benchmarks/precision_paths.py RUN [--threads 1] [--out FILE]

RUN: a workflow's working directory after ``snakemake`` (its ``results/metrics`` name
each evaluation's checkpoint, data set and methods). The workflow scores tables along
``evaluate.precision: hardware`` (``istvt.inference.hardware_precision``); this is the
measurement behind that rule.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import cpu_line, emit  # noqa: E402

from istvt.checkpoint import load_checkpoint  # noqa: E402
from istvt.data.dataset import split_dataset  # noqa: E402
from istvt.data.manifest import read_manifest  # noqa: E402
from istvt.inference import (  # noqa: E402
    cpu_has_native_bf16,
    hardware_precision,
    int8_available,
    predict,
    prepare,
)
from istvt.metrics import point_metrics, video_scores  # noqa: E402


def evaluations(run: Path) -> list[dict]:
    """Each clean evaluation of the run once: checkpoint, data set, methods, test set."""
    seen, out = set(), []
    for path in sorted((run / "results" / "metrics").rglob("*.json")):
        m = json.loads(path.read_text())
        if m.get("perturbation") or "checkpoint" not in m or "dataset" not in m:
            continue
        key = (m["checkpoint"], m["dataset"], tuple(m.get("methods") or ()))
        if key in seen:
            continue
        seen.add(key)
        rel = path.relative_to(run / "results" / "metrics")
        out.append(
            {
                "model": str(rel.parent),
                "testset": path.stem,
                "checkpoint": run / m["checkpoint"]
                if not Path(m["checkpoint"]).is_absolute()
                else Path(m["checkpoint"]),
                "dataset": m["dataset"],
                "methods": m.get("methods"),
            }
        )
    return out


def score(scorer, dataset, batch_size: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    scores = predict(scorer, dataset, batch_size)
    return scores, (time.perf_counter() - t0) / max(1, len(dataset))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = ["fp32", "bf16"] + (["int8"] if int8_available() else [])
    rows = []
    for ev in evaluations(args.run):
        manifest = read_manifest(args.run / "results" / "manifests" / f"{ev['dataset']}.csv")
        model = load_checkpoint(ev["checkpoint"], map_location="cpu")
        faces = args.run / "results" / "faces" / ev["dataset"]
        other = faces.parent / f"length-{model.cfg.sequence_length}" / ev["dataset"]
        faces = other if other.is_dir() else faces  # an ablation row of another T
        dataset, _ = split_dataset(manifest, faces, "test", ev["methods"])
        clips = pd.DataFrame({"video_id": dataset.video_ids, "label": dataset.labels})
        reference = None
        for path in paths:
            scores, seconds = score(prepare(model, path, "cpu"), dataset, args.batch_size)
            videos = video_scores(clips.assign(score=scores))
            row = {"model": ev["model"], "testset": ev["testset"], "path": path}
            row["clips"] = len(dataset)
            row["video_auc"] = 100 * point_metrics(videos.label, videos.score)["auc"]
            row["ms_per_clip"] = 1000 * seconds
            if reference is None:
                reference = (scores, videos.score.to_numpy(), seconds, row["video_auc"])
            row["auc_minus_fp32"] = row["video_auc"] - reference[3]
            row["max_clip_diff"] = float(np.abs(scores - reference[0]).max())
            row["max_video_diff"] = float(np.abs(videos.score.to_numpy() - reference[1]).max())
            row["speed_vs_fp32"] = reference[2] / seconds
            rows.append(row)
            print(
                f"{ev['model']} on {ev['testset']} {path}: AUC {row['video_auc']:.2f}, "
                f"max clip diff {row['max_clip_diff']:.2e}, {row['ms_per_clip']:.2f} ms/clip",
                flush=True,
            )
    df = pd.DataFrame(rows)
    summary = df.groupby("path", sort=False).agg(
        evaluations=("model", "size"),
        largest_auc_change=("auc_minus_fp32", lambda v: float(np.abs(v).max())),
        mean_auc_change=("auc_minus_fp32", "mean"),
        largest_clip_diff=("max_clip_diff", "max"),
        largest_video_diff=("max_video_diff", "max"),
        median_speed_vs_fp32=("speed_vs_fp32", "median"),
    )
    text = "\n".join(
        [
            f"# Scoring paths on the trained models of {args.run}",
            "",
            cpu_line(),
            f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch_size}; "
            f"native bf16: {cpu_has_native_bf16()}; "
            f"evaluate.precision hardware -> {hardware_precision('cpu')} here",
            "",
            "Per path, over every (model, test set) of the run: the largest change of the "
            "video AUC (points) against fp32, the largest score differences (probability) "
            "and the median speed against fp32 in the same process.",
            "",
            summary.to_markdown(floatfmt=".4g"),
            "",
            "Every evaluation:",
            "",
            df.to_markdown(index=False, floatfmt=".4g"),
            "",
        ]
    )
    emit(text, args.out)


if __name__ == "__main__":
    main()

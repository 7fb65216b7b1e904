"""The tiny workflow configuration and how tests run Snakemake on it (shared by the
local and the Slurm workflow tests: tests/conftest.py's ``tiny_run``)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch
import yaml

from .conftest import REPO

TINY = {
    "seed": 0,
    "demo": {"identities": 6, "frames": 8, "size": 192},
    # several shards per data set: face extraction fans out one job per shard
    # lossless WebP shards (the paper config's store) through every stage
    "preprocess": {"clips_per_video": 1, "shard_size": 7, "store": "webp"},
    "model": {
        "sequence_length": 4,
        "image_size": 64,
        "embed_dim": 32,
        "num_layers": 1,
        "num_heads": 2,
        "dim_head": 16,
    },
    "datasets": {
        "ffpp_demo": {
            "layout": "ffpp",
            "root": "resources/demo/ffpp",
            "demo": True,
            "options": {"methods": ["FaceSwap", "Deepfakes"]},
        },
        "dfdc_demo": {
            "layout": "dfdc",
            "root": "resources/demo/dfdc",
            "demo": True,
            "options": {"val_fraction": 0.2},
            "preprocess": {"max_frames": None},
        },
    },
    "train": {"epochs": 2, "batch_size": 4, "optimizer": "adamw", "lr": 1e-3},
    # fp32: a 2-epoch model's scores differ in the 4th digit, below bf16's resolution
    "evaluate": {"bootstrap": 50, "precision": "fp32"},
    "interpret": {"experiments": ["ffpp"], "heatmaps": 2, "fractions": [5, 30], "max_clips": 8},
    "ablations": {
        "attention": {"datasets": {"dfdc_demo": "celebdf"}, "variants": ["joint"]},
        "sequence_length": {"dataset": "dfdc_demo", "values": [2, 4]},
    },
    "robustness": {
        "experiments": ["dfdc"],
        "perturbations": {"jpeg": [30], "dropout": [8, 40], "compression": [35]},
    },
    "experiments": {
        "ffpp": {"dataset": "ffpp_demo", "test": ["ffpp_demo", "dfdc_demo", "ffpp_fs"]},
        "dfdc": {  # trained with the paper's random-dropout augmentation (Fig. 8)
            "dataset": "dfdc_demo",
            "test": ["dfdc_demo"],
            "train": {"dropout_regions": 8},
        },
    },
    "testsets": {"ffpp_fs": {"dataset": "ffpp_demo", "methods": ["FaceSwap"]}},
    "report": {
        "table1": {
            "ffpp_c23/FaceSwap": "ffpp/ffpp_demo/FaceSwap",
            "ffpp_c23/Deepfakes": "ffpp/ffpp_demo/Deepfakes",
            "dfdc_preview": "dfdc/dfdc_demo",
        },
        "table2": {"dfdc": "ffpp/dfdc_demo"},
    },
}


def snakemake(workdir, config, *args):
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(command(workdir, *args), capture_output=True, text=True)


def command(workdir, *args):
    """The snakemake command line for the repository's workflow in ``workdir``."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *args,
    ]


def same_weights(a: Path, b: Path) -> list[str]:
    """Names of the tensors that differ between two checkpoints or training states."""
    sa, sb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    sa, sb = (s.get("state_dict", s.get("best_model")) for s in (sa, sb))
    return [k for k in sa if not torch.equal(sa[k], sb[k])]


def differences(local: Path, other: Path) -> list[str]:
    """Outputs of two workflow runs that differ: videos, face shards, models, training
    logs (but for seconds), scores, metrics and tables."""
    out = []
    for path in sorted(local.rglob("*")):
        rel = path.relative_to(local)
        if not path.is_file() or rel.parts[0] not in ("results", "resources"):
            continue
        twin = other / rel
        if not twin.is_file():
            out.append(f"{rel}: missing")
        elif path.suffix in (".mp4", ".npz") or rel.parts[:2] in (
            ("results", "predictions"),
            ("results", "tables"),
        ):
            if path.suffix in (".mp4", ".npz", ".csv", ".md") and (
                path.read_bytes() != twin.read_bytes()
            ):
                out.append(str(rel))
        elif path.name == "best_model.pth" and same_weights(path, twin):
            out.append(str(rel))
        elif path.name == "train_log.csv":
            a, b = (pd.read_csv(p).drop(columns="seconds") for p in (path, twin))
            if not a.equals(b):
                out.append(str(rel))
    return out

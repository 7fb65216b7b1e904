"""The Snakemake workflow on a tiny configuration, run for real in a temporary folder."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from istvt.data.shards import ShardReader

from .conftest import REPO

TINY = {
    "seed": 0,
    "demo": {"identities": 6, "frames": 8, "size": 192},
    "preprocess": {"clips_per_video": 1},
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
}


def snakemake(workdir, config, *args):
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(path),
            *args,
        ],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    proc = snakemake(workdir, TINY, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


def test_data_stages_produce_manifests_shards_and_status(tiny_run):
    for name in TINY["datasets"]:
        manifest = pd.read_csv(tiny_run / "results" / "manifests" / f"{name}.csv")
        status = pd.read_csv(tiny_run / "results" / "faces" / name / "status.csv")
        assert sorted(status.video_id) == sorted(manifest.video_id)  # nothing lost
        assert (status.status == "ok").all()
        shard = ShardReader(tiny_run / "results" / "faces" / name / "shard-0.npz")
        assert shard.clips.shape[1:] == (4, 64, 64, 3)  # T and size follow the model section
        assert len(shard) == len(manifest)  # one clip per video
        assert (tiny_run / "logs" / "preprocess" / f"{name}.log").is_file()
    assert (tiny_run / "results" / "tables" / "model_cost.md").is_file()
    assert not (tiny_run / "resources" / "work").exists() or not any(
        (tiny_run / "resources" / "work" / "faces").iterdir()
    )


def test_rerun_has_nothing_to_do_and_forcerun_reruns_only_dependents(tiny_run):
    proc = snakemake(tiny_run, TINY, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    proc = snakemake(tiny_run, TINY, "-n", "--forcerun", "manifest")
    out = proc.stdout
    assert "preprocess" in out and "demo_data" not in out.split("Job stats")[-1].split("Reasons")[0]


def test_missing_dataset_root_names_the_key(tmp_path):
    config = {
        **TINY,
        "datasets": {"celebdf": {"layout": "celebdf", "root": str(tmp_path / "nowhere")}},
    }
    proc = snakemake(tmp_path, config, "-n")
    assert proc.returncode != 0
    assert "datasets.celebdf.root" in proc.stdout + proc.stderr


def test_default_config_plans_every_stage():
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for rule in ("demo_data", "manifest", "preprocess", "model_card"):
        assert rule in proc.stdout

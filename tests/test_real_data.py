"""The whole workflow on genuine FF++ and DFDC files (../shared/data/samples), arranged
in their datasets' own layouts and run from a checkout's root with a user's config, as
the README tells a researcher to. Skips where ../shared is absent."""

import os
import subprocess
import sys
import time

import pandas as pd
import yaml

from .conftest import shared_path
from .test_workflow import TINY, _checkout, planned_jobs


def _arrange(samples, data):
    """FF++ as distributed (no split files: the shipped official ones apply); the DFDC
    files as a DFDC test folder with labels.csv, the labels from their own metadata."""
    ffpp = data / "FaceForensics++"
    for src in (samples / "FaceForensics++").rglob("*.mp4"):
        dst = ffpp / src.relative_to(samples / "FaceForensics++")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src, dst)
    dfdc = data / "DFDC"
    (dfdc / "test").mkdir(parents=True)
    lines = ["filename,label"]
    for meta in sorted((samples / "DFDC").glob("*/metadata.json")):
        for name, entry in yaml.safe_load(meta.read_text()).items():
            os.symlink(meta.parent / name, dfdc / "test" / name)
            lines.append(f"{name},{1 if entry['label'] == 'FAKE' else 0}")
    (dfdc / "test" / "labels.csv").write_text("\n".join(lines) + "\n")
    # and one training part, which this plan never reads (DFDC is a test set here)
    os.symlink(samples / "DFDC" / "dfdc_train_part_0", dfdc / "dfdc_train_part_0")
    return ffpp, dfdc


def test_workflow_on_real_videos_from_a_checkout_root(tmp_path):
    samples = shared_path("data", "samples")
    ffpp, dfdc = _arrange(samples, tmp_path / "data")
    config = {
        "seed": 0,
        "model": TINY["model"],  # T=4, 64 px, one block
        "preprocess": {"clips_per_video": 2, "max_frames": 270, "shard_size": 8},
        "datasets": {
            "ffpp": {
                "layout": "ffpp",
                "root": str(ffpp),
                "options": {
                    "compressions": ["c23"],
                    "methods": ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"],
                },
            },
            "dfdc": {"layout": "dfdc", "root": str(dfdc), "preprocess": {"max_frames": None}},
        },
        "train": {"epochs": 2, "batch_size": 2, "optimizer": "adamw", "lr": 1e-3},
        "evaluate": {"bootstrap": 20},
        "interpret": {"experiments": []},
        "experiments": {"ffpp": {"dataset": "ffpp", "test": ["ffpp", "dfdc"]}},
        "report": {"table1": {"ffpp_c23/FaceSwap": "ffpp/ffpp"}, "table2": {"dfdc": "ffpp/dfdc"}},
    }
    user = tmp_path / "my_config.yaml"
    user.write_text(yaml.safe_dump(config))
    root = _checkout(tmp_path)

    plan = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", str(user)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    jobs = planned_jobs(plan.stdout)
    assert jobs["manifest"] == 2 and jobs["train"] == 1 and jobs["evaluate"] == 2, jobs
    assert "demo_data" not in jobs

    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(user)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "demo_data" not in out and not (root / "resources" / "demo").exists()
    print(f"real-video workflow: {seconds:.0f} s")

    results = root / "results"
    manifest = pd.read_csv(results / "manifests" / "ffpp.csv")
    assert len(manifest) == 7  # 3 originals, 4 fakes; 750_743's original 750 is absent
    assert dict(manifest.groupby("split").size()) == {"train": 3, "val": 2, "test": 2}
    coverage = (results / "manifests" / "ffpp.coverage.md").read_text()
    assert "7 of 5000 expected videos present" in coverage
    assert "| FaceSwap | c23 | 0 / 720 | 0 / 140 | 1 / 140 |" in coverage
    # DFDC is only tested on: its manifest keeps the test split, the log says what not
    assert set(pd.read_csv(results / "manifests" / "dfdc.csv").split) == {"test"}
    assert (
        "left out, no experiment reads them: {'train': 1}"
        in (root / "logs" / "manifest" / "dfdc.log").read_text()
    )
    for name, n in (("ffpp", 7), ("dfdc", 3)):
        status = pd.read_csv(results / "faces" / name / "status.csv")
        assert len(status) == n  # processed + failed = input count
        ok = status[status.status == "ok"]
        assert len(ok) >= n - 1, status[["video_id", "status", "detail"]]
        assert (ok.clips_written >= 1).all()
    for test, n in (("ffpp", 2), ("dfdc", 3)):
        pred = pd.read_csv(results / "predictions" / "ffpp" / f"{test}.csv")
        assert len(pred) == n
    report = (results / "report.md").read_text()
    assert "### Coverage" in report and "**ffpp** (present / expected)" in report
    assert "DFDC" in (results / "tables" / "table2_cross_dataset.md").read_text()
    assert (root / "logs" / "manifest" / "ffpp.log").read_text().count("present") >= 1

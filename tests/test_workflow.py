"""The Snakemake workflow on a tiny configuration, run for real in a temporary folder."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from istvt.data.demo import DFDC_METHODS, load_kinds
from istvt.data.shards import ShardReader

from .conftest import REPO
from .data_trees import paper_trees
from .workflow_helpers import TINY, command, differences, snakemake  # noqa: F401


def test_data_stages_produce_manifests_shards_and_status(tiny_run):
    for name in TINY["datasets"]:
        manifest = pd.read_csv(tiny_run / "results" / "manifests" / f"{name}.csv")
        status = pd.read_csv(tiny_run / "results" / "faces" / name / "status.csv")
        assert sorted(status.video_id) == sorted(manifest.video_id)  # nothing lost
        assert (status.status == "ok").all()
        files = sorted((tiny_run / "results" / "faces" / name).glob("shard-*.npz"))
        assert len(files) == -(-len(manifest) // 7) >= 2  # one job per 7 videos
        shards = [ShardReader(f) for f in files]
        assert shards[0].clips.shape[1:] == (4, 64, 64, 3)  # T and size: the model section
        assert sum(len(s) for s in shards) == len(manifest)  # one clip per video
        assert (tiny_run / "logs" / "preprocess" / f"{name}.log").is_file()
        assert (tiny_run / "logs" / "preprocess" / name / "shard-1.log").is_file()
    assert (tiny_run / "results" / "tables" / "model_cost.md").is_file()


def test_rerun_has_nothing_to_do_and_forcerun_reruns_only_dependents(tiny_run):
    proc = snakemake(tiny_run, TINY, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    proc = snakemake(tiny_run, TINY, "-n", "--forcerun", "manifest")
    out = proc.stdout
    assert "preprocess" in out and "demo_data" not in out.split("Job stats")[-1].split("Reasons")[0]


def test_forcerun_train_and_a_changed_training_param_rerun_only_what_depends_on_them(tiny_run):
    for args, config in (
        (("--forcerun", "train"), TINY),
        ((), {**TINY, "train": {**TINY["train"], "lr": 5e-4}}),
    ):
        proc = snakemake(tiny_run, config, "-n", *args)
        assert proc.returncode == 0, proc.stderr[-2000:]
        jobs = planned_jobs(proc.stdout)
        # 2 experiments + 3 ablation models, 4 + 3 evaluations; robustness: the 3
        # clip-level levels in one job, the compression level in its own
        assert jobs["train"] == 5 and jobs["evaluate"] == 7 and jobs["summary"] == 1
        assert jobs["evaluate_perturbations"] == 1 and jobs["evaluate_perturbed"] == 1
        assert not {"demo_data", "manifest", "preprocess", "preprocess_length"} & set(jobs), jobs
        assert not {"compress_videos", "preprocess_perturbed"} & set(jobs), jobs


def test_missing_dataset_root_names_the_key(tmp_path):
    config = {
        **TINY,
        "datasets": {"celebdf": {"layout": "celebdf", "root": str(tmp_path / "nowhere")}},
        "experiments": {"celebdf": {"dataset": "celebdf", "test": ["celebdf"]}},
        "testsets": {},
        "report": {},
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
    for rule in (
        "demo_data",
        "demo_figure",
        "manifest",
        "preprocess",
        "model_card",
        "train",
        "evaluate",
        "tables",
        "roc_figure",
        "training_figure",
        "summary",
        "interpret",
    ):
        assert f"rule {rule}:" in proc.stdout or f"checkpoint {rule}:" in proc.stdout


def test_default_plan_trains_nothing_twice_and_scores_each_grid_in_one_job():
    """The demo's ablation base row is the celebdf experiment (same model, recipe and
    data), and each robustness model scores all clip-level levels in one process."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "all"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    jobs = planned_jobs(proc.stdout)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    abl = config["ablations"]
    variants = len(abl["attention"]["variants"]) + sum(
        len(abl[k]["values"]) for k in ("sequence_length", "num_layers")
    )
    # 3 tables share the base row: every other row is one model of its own
    assert jobs["train"] == len(config["experiments"]) + variants - 3
    assert "abl-celebdf_demo-base" not in proc.stdout
    clip_levels = sum(
        len(v) for k, v in config["robustness"]["perturbations"].items() if k != "compression"
    )
    assert clip_levels > 1 and jobs["evaluate_perturbations"] == 1
    assert jobs["evaluate_perturbed"] == len(config["robustness"]["perturbations"]["compression"])


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run -> {rule: count}."""
    stats = output.split("Job stats:")[-1].split("total")[0]
    jobs = {}
    for line in stats.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    return jobs


def test_results_tables_figures_and_report(tiny_run):
    from istvt.checkpoint import load_checkpoint
    from istvt.evaluate import read_predictions
    from istvt.model.flops import paper_results

    res = tiny_run / "results"
    evaluations = [(e, t) for e, ex in TINY["experiments"].items() for t in ex["test"]]
    for experiment, testset in evaluations:
        dataset = TINY["testsets"].get(testset, {"dataset": testset})["dataset"]
        manifest = pd.read_csv(res / "manifests" / f"{dataset}.csv")
        expected = manifest[manifest.split == "test"]
        if testset == "ffpp_fs":
            expected = expected[(expected.label == 0) | (expected.method == "FaceSwap")]
        pred = read_predictions(res / "predictions" / experiment / f"{testset}.csv")
        assert sorted(pred.video_id) == sorted(expected.video_id)  # each test video once
        assert pred.score.between(0, 1).all() and (pred.status == "ok").all()
        means = pred.clip_scores.map(lambda s: np.mean([float(v) for v in s.split()]))
        assert np.allclose(pred.score, means, atol=1e-5)  # video score = mean of its clips
        metrics = json.loads((res / "metrics" / experiment / f"{testset}.json").read_text())
        assert metrics["videos"] == len(expected) and 0 <= metrics["video"]["acc"] <= 1
        assert (
            metrics["video_ci95"]["acc_lo"]
            <= metrics["video"]["acc"]
            <= metrics["video_ci95"]["acc_hi"]
        )
        assert metrics["provenance"]["git_commit"] and "torch" in metrics["provenance"]["versions"]
        assert metrics["provenance"]["config"]["experiments"] == TINY["experiments"]
    for experiment in TINY["experiments"]:
        log = pd.read_csv(res / "models" / experiment / "train_log.csv")
        assert list(log.epoch) == [1, 2] and log.selected.sum() >= 1
        model = load_checkpoint(res / "models" / experiment / "best_model.pth")
        assert model.cfg.image_size == 64
    paper = paper_results()
    t1 = pd.read_csv(res / "tables" / "table1_in_dataset.csv").set_index("cell")
    assert len(t1) == 10
    assert (
        t1.loc["ffpp_c23/FaceSwap", "paper_acc"] == paper["table1_accuracy"]["ffpp_c23"]["FaceSwap"]
    )
    for cell in TINY["report"]["table1"]:
        assert 0 <= t1.loc[cell, "ours_acc"] <= 100 and t1.loc[cell, "videos"] > 0
    assert t1.loc[["ffpp_c40/Face2Face", "celebdf"], "ours_acc"].isna().all()
    t2 = pd.read_csv(res / "tables" / "table2_cross_dataset.csv").set_index("cell")
    assert t2.loc["dfdc", "paper_auc"] == paper["table2_cross_auc"]["dfdc"]
    assert 0 <= t2.loc["dfdc", "ours_auc"] <= 100
    matrix = pd.read_csv(res / "tables" / "all_results.csv")
    assert len(matrix) == len(evaluations) + 3  # + the ablation models: base, joint, T = 2
    assert set(matrix[matrix.experiment == "ffpp"].kind) == {"in-dataset", "cross"}
    for name in ("roc_ffpp.png", "roc_dfdc.png", "training_curves.png"):
        assert (res / "figures" / name).read_bytes()[:4] == b"\x89PNG"
    # interpretability: only the configured experiment, every map, the figures
    assert not (res / "interpret" / "dfdc").exists()
    faith = pd.read_csv(res / "interpret" / "ffpp" / "faithfulness.csv").set_index("map")
    assert list(faith.index) == [
        "lrp", "lrp_spatial", "lrp_temporal", "lrp[readout=grid]",
        "lrp[gradient=False,readout=grid]", "rollout", "raw_attention", "gradcam", "random",
    ]  # fmt: skip
    assert faith.label["lrp[gradient=False,readout=grid]"] == (
        "ISTVT-LRP, without Eq. 4's gradient, readout grid"
    )
    test_clips = read_predictions(res / "predictions" / "ffpp" / "ffpp_demo.csv").clips.sum()
    assert (faith.clips == min(8, test_clips)).all() and (faith.mask_frames > 0).all()
    assert faith.pointing_game.between(0, 100).all() and faith.mask_mass.between(0, 100).all()
    deletion = pd.read_csv(res / "interpret" / "ffpp" / "deletion.csv")
    assert sorted(set(deletion.percent)) == [0, 5, 30] and len(deletion) == 9 * 3
    record = json.loads((res / "interpret" / "ffpp" / "faithfulness.json").read_text())
    assert record["provenance"]["git_commit"] and record["config"]["max_clips"] == 8
    heatmaps = sorted((res / "interpret" / "ffpp" / "heatmaps").glob("*.png"))
    assert len(heatmaps) == 2 and (res / "figures" / "deletion_ffpp.png").is_file()
    # robustness: every level one evaluation of every test video, the table and curves
    test_videos = sorted(
        pd.read_csv(res / "manifests" / "dfdc_demo.csv").query("split == 'test'").video_id
    )
    for name in ("jpeg-30", "dropout-8", "dropout-40", "compression-35"):
        pred = read_predictions(res / "predictions" / "dfdc" / "dfdc_demo" / f"{name}.csv")
        assert sorted(pred.video_id) == test_videos
        metrics = json.loads((res / "metrics" / "dfdc" / "dfdc_demo" / f"{name}.json").read_text())
        p, level = name.split("-")
        assert metrics["perturbation"] == {"name": p, "level": float(level)}
    clean = read_predictions(res / "predictions" / "dfdc" / "dfdc_demo.csv")
    jpeg = read_predictions(res / "predictions" / "dfdc" / "dfdc_demo" / "jpeg-30.csv")
    assert not np.allclose(clean.score, jpeg.score)  # the perturbation reached the model
    robust = pd.read_csv(res / "tables" / "robustness_dfdc.csv")
    assert list(zip(robust.perturbation, robust.level.fillna(-1), strict=True)) == [
        ("none", -1), ("jpeg", 30), ("dropout", 8), ("dropout", 40), ("compression", 35)
    ]  # fmt: skip
    assert robust.loc[robust.perturbation == "jpeg", "paper_acc"].iloc[0] == 93.8
    assert (res / "figures" / "robustness_dfdc.png").read_bytes()[:4] == b"\x89PNG"
    # ablations: the base model (T = 4) shared by both tables, T = 2 from its own clips
    att = pd.read_csv(res / "tables" / "ablation_attention.csv")
    length = pd.read_csv(res / "tables" / "ablation_sequence_length.csv")
    assert list(att.row) == ["joint"] and att.paper_acc[0] == 99.0
    assert list(length.row) == [2, 4] and length.gflops[0] < length.gflops[1]
    assert length.paper_auc.tolist() == [96.1, 96.5]
    clips = ShardReader(next((res / "faces" / "length-2" / "dfdc_demo").glob("shard-*.npz")))
    assert clips.clips.shape[1] == 2
    assert (
        load_checkpoint(
            res / "models" / length.experiment[0] / "best_model.pth"
        ).cfg.sequence_length
        == 2
    )
    # per method: FF++'s methods, and the DFDC demo's recorded kinds of fake
    methods = pd.read_csv(res / "tables" / "per_method.csv")
    found = methods.groupby(["experiment", "testset"]).method.apply(set).to_dict()
    assert found[("ffpp", "ffpp_demo")] == {"Deepfakes", "FaceSwap"}
    test_kinds = {  # the DFDC methods of the demo's test fakes
        kind
        for video, kind in load_kinds(tiny_run / "resources" / "demo" / "dfdc").items()
        if video.startswith("test/")
    }
    assert len(test_kinds) >= 2 and test_kinds <= set(DFDC_METHODS)
    assert found[("dfdc", "dfdc_demo")] == found[("ffpp", "dfdc_demo")] == test_kinds
    dfdc_test = pd.read_csv(res / "manifests" / "dfdc_demo.csv").query("split == 'test'")
    dfdc_rows = methods[(methods.experiment == "dfdc")]
    assert dfdc_rows.fakes.sum() == dfdc_test.label.sum()  # every test fake has its kind
    assert (dfdc_rows.reals == (dfdc_test.label == 0).sum()).all()
    report = (res / "report.md").read_text()
    assert "Table I" in report and "Table II" in report and "git commit" in report
    assert all(f"| dfdc | dfdc_demo | {kind} |" in report for kind in test_kinds)
    assert "## Ablations" in report and "Table IV" in report
    assert "## Interpretability" in report and "deletion_ffpp.png" in report
    assert "## Robustness" in report and "robustness_dfdc.png" in report
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (res / link).is_file(), link


def test_html_report(tiny_run):
    proc = snakemake(tiny_run, TINY, "--report", "report.html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tiny_run / "report.html").read_text(errors="replace")
    assert "table1_in_dataset.csv" in html and "roc_ffpp.png" in html


def test_training_resumes_after_the_workflow_is_killed(tiny_run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(tiny_run, work, symlinks=True)
    for sub in ("models", "predictions", "metrics", "tables", "figures"):
        shutil.rmtree(work / "results" / sub, ignore_errors=True)
    shutil.rmtree(work / "resources" / "work" / "train")  # the finished trainings' states
    config = {**TINY, "train": {**TINY["train"], "epochs": 25}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    args = command(work, "--cores", "1", "results/models/dfdc/best_model.pth")
    state = work / "resources" / "work" / "train" / "dfdc" / "state.pt"
    proc = subprocess.Popen(
        args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no clean-up of any kind
    proc.wait()
    assert state.exists() and not (work / "results" / "models" / "dfdc" / "best_model.pth").exists()
    subprocess.run(args + ["--unlock"], capture_output=True, check=True)  # the kill's lock
    done = subprocess.run(args + ["--rerun-incomplete"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (work / "logs" / "train" / "dfdc.log").read_text()
    assert "resuming after epoch" in log
    epochs = pd.read_csv(work / "results" / "models" / "dfdc" / "train_log.csv").epoch
    assert list(epochs) == list(range(1, 26))
    # once the model is written the state holds the finished training alone: a retry of
    # a job killed after this point restores the outputs from it
    finished = torch.load(state, weights_only=True)
    assert finished["finished"] and "optimizer" not in finished


def test_a_training_killed_right_after_it_finished_is_restored_not_retrained(tiny_run, tmp_path):
    """The worst moment: every output written, then the job dies (SIGKILL, as a time
    limit a second later would). Snakemake deletes the outputs of the failed job and
    retries; the retry restores them from the finished state, training nothing, and
    they are the uninterrupted run's."""
    work = tmp_path / "run"
    shutil.copytree(tiny_run, work, symlinks=True)
    shutil.rmtree(work / "results" / "models" / "dfdc")
    shutil.rmtree(work / "resources" / "work" / "train" / "dfdc")
    (work / "config.yaml").write_text(yaml.safe_dump(TINY))
    target = "results/models/dfdc/best_model.pth"
    env = {**os.environ, "ISTVT_TEST_KILL_AFTER_TRAINING": "1"}
    args = command(work, "--cores", "2", "--retries", "1", target)
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Removing output files of failed job train" in done.stdout + done.stderr
    history = (work / "resources" / "work" / "train" / "dfdc" / "attempts.log").read_text()
    assert [line.split(": ", 1)[1] for line in history.splitlines()] == ["finished"] * 2
    log = (work / "logs" / "train" / "dfdc.log").read_text()  # attempt 2's own
    assert "attempt 2 of this job" in log and "rewriting its outputs" in log
    assert "epoch 1/2" not in log  # nothing trained
    assert differences(tiny_run, work) == []


def _paper_config(tmp_path):
    """config/paper.yaml pointed at miniature copies of every data set's layout."""
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    trees = paper_trees(tmp_path / "data")
    for name, ds in config["datasets"].items():
        ds["root"] = str(trees["ffpp" if ds["layout"] == "ffpp" else name])
    config["datasets"]["deeperforensics"]["options"]["ffpp_root"] = str(trees["ffpp"])
    return config


def _checkout(tmp_path):
    """A copy of this checkout's files (tracked and new, not ignored): its root is where
    a user runs the README's commands, with config/config.yaml in place."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    root = tmp_path / "checkout"
    for rel in filter(None, listed.stdout.decode().split("\0")):
        if (REPO / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    return root


def _dry_run(root, *args):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "all", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return proc, planned_jobs(proc.stdout)


PAPER_JOBS = {
    # FF++ c23 and c40, Celeb-DF, DFDC-preview, DFDC, DeeperForensics
    "manifest": 6,
    "preprocess": 6,
    # 2 compressions x 4 methods, Celeb-DF (also with dropout training), DFDC-P, FF++
    # (all), and the ablations: 11 variants on FF++ LQ and on Celeb-DF, 5 more T and 5
    # more M on FF++ LQ (T = 6 and M = 12 are the base model of Table III); the base
    # row on Celeb-DF is the celebdf experiment itself, not trained twice
    "train": 12 + 31,
    # FF++ (all) is tested on FF++, Celeb-DF, DFDC, FaceShifter and DeeperForensics
    "evaluate": 16 + 31,
    "roc_figure": 43,
    "summary": 1,
    "preprocess_length": 5,
    "ablation_table": 3,
    "interpret": 5,  # the four FF++ c23 models and Celeb-DF
    # Fig. 6 and the standard suite on Celeb-DF (Fig. 8: two models, trained with and
    # without dropout): 9 + 9 + 5 levels and 6 x 5 in one job per model, CRF x 5 in one
    # job per level; one CRF re-encoding per level
    "evaluate_perturbations": 2,
    "evaluate_perturbed": 2 * 5,
    "robustness": 2,
    "compress_videos": 5,
    "preprocess_perturbed": 5,
}


def test_paper_config_plans_the_papers_protocol(tmp_path):
    config = _paper_config(tmp_path)
    proc = snakemake(tmp_path, config, "-n")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc.stdout)
    assert {k: jobs.get(k) for k in PAPER_JOBS} == PAPER_JOBS
    for cell in ("ffpp_c40/NeuralTextures", "celebdf", "dfdc_preview"):
        assert cell in config["report"]["table1"]
    assert set(config["report"]["table2"]) == {"celebdf", "dfdc", "faceshifter", "deeperforensics"}
    assert config["model"]["xception_weights"] == "imagenet"


def test_configfile_replaces_the_default_config_from_a_checkout_root(tmp_path):
    """The README's commands, from a checkout's root: --configfile runs that file's data
    sets and experiments only; plain snakemake runs the demo; --config still overrides."""
    root = _checkout(tmp_path)
    paper = tmp_path / "paper.yaml"
    paper.write_text(yaml.safe_dump(_paper_config(tmp_path)))
    proc, jobs = _dry_run(root, "--configfile", str(paper))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "demo_data" not in jobs
    assert {k: jobs.get(k) for k in PAPER_JOBS} == PAPER_JOBS

    celebdf = paper_trees(tmp_path / "mine")["celebdf"]
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        yaml.safe_dump(
            {
                "model": TINY["model"],
                "datasets": {"celebdf": {"layout": "celebdf", "root": str(celebdf)}},
                "experiments": {"celebdf": {"dataset": "celebdf", "test": ["celebdf"]}},
            }
        )
    )
    proc, jobs = _dry_run(root, "--configfile", str(mine))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert jobs["manifest"] == jobs["train"] == jobs["evaluate"] == 1, jobs
    assert not {"demo_data", "demo_figure", "evaluate_perturbed", "preprocess_length"} & set(jobs)

    proc, jobs = _dry_run(root)  # the default config: the embedded demo (4 sets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert jobs["demo_data"] == 4 and jobs["manifest"] == 4 and jobs["demo_figure"] == 1

    for args in (("--configfile", str(mine)), ()):  # --config applies over either
        proc, _ = _dry_run(root, *args, "--config", "seed=not-a-number")
        assert proc.returncode != 0 and "seed" in proc.stdout + proc.stderr


def test_paper_config_without_data_names_the_root_key(tmp_path):
    config = _paper_config(tmp_path)
    shutil.rmtree(config["datasets"]["celebdf"]["root"])
    proc = snakemake(tmp_path, config, "-n")
    assert proc.returncode != 0
    assert "datasets.celebdf.root" in proc.stderr + proc.stdout


def test_an_empty_split_fails_before_any_job_naming_experiment_split_and_dataset(tmp_path):
    config = _paper_config(tmp_path)
    ffpp = Path(config["datasets"]["ffpp_c40"]["root"])
    for video in (ffpp / "manipulated_sequences" / "NeuralTextures" / "c40" / "videos").glob(
        "*720*.mp4"
    ):
        video.unlink()  # the val pair of NeuralTextures c40: the interrupted download
    proc = snakemake(tmp_path, config, "-n")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "experiment 'ffpp_c40_NT': the val split of data set 'ffpp_c40'" in out
    assert "restricted to NeuralTextures: has no fake videos" in out
    assert "| NeuralTextures | c40 | 2 / 720 | 0 / 140 | 2 / 140 |" in out  # coverage
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trian": {"epochs": 3}}, "trian"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"experiments": {"x": {"dataset": "nope", "test": ["dfdc_demo"]}}}, "experiments.x"),
        ({"experiments": {"x": {"dataset": "dfdc_demo", "test": ["nope"]}}}, "nope"),
        ({"report": {"table2": {"celebdf": "ffpp/celebdf_demo"}}}, "report.table2.celebdf"),
        ({"report": {"table1": {"ffpp_c99/X": "ffpp/ffpp_demo"}}}, "ffpp_c99/X"),
        ({"interpret": {"experiments": ["nope"]}}, "interpret.experiments: 'nope'"),
        ({"interpret": {"methods": ["lime"]}}, "interpret.methods"),
        ({"interpret": {"fractions": [0, 5]}}, "interpret.fractions"),
        ({"robustness": {"experiments": ["dfdc"], "perturbations": {"fog": [1]}}}, "'fog'"),
        (
            {"robustness": {"experiments": ["dfdc"], "perturbations": {"jpeg": [0]}}},
            "robustness.perturbations.jpeg",
        ),
        ({"robustness": {"experiments": ["nope"]}}, "robustness.experiments: 'nope'"),
        (
            {"ablations": {"num_layers": {"dataset": "dfdc_demo", "values": [1]}, "x": {}}},
            "ablations",
        ),
        (
            {
                "ablations": {
                    "attention": {"datasets": {"dfdc_demo": "ffpp"}, "variants": ["joint+ss"]}
                }
            },
            "self_subtract",
        ),
        (
            {"ablations": {"attention": {"datasets": {"dfdc_demo": "x"}, "variants": ["joint"]}}},
            "'x' is not one of ['ffpp', 'celebdf']",
        ),
        ({"model": {**TINY["model"], "attention": "joint", "self_subtract": False}}, "'joint'"),
    ],
)
def test_invalid_workflow_config_fails_before_any_job(tmp_path, change, message):
    config = {**TINY, **change}
    if "experiments" in change:
        config["report"] = {}
    proc = snakemake(tmp_path, config, "-n")
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_infer_with_a_trained_model_on_demo_videos_and_a_broken_file(tiny_run, tmp_path):
    from istvt.cli import main

    folder = tmp_path / "videos"
    folder.mkdir()
    demo = sorted((tiny_run / "resources" / "demo" / "ffpp").rglob("*.mp4"))[:3]
    for k, path in enumerate(demo):
        shutil.copy(path, folder / f"{k}_{path.name}")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00 truncated download")
    model = tiny_run / "results" / "models" / "ffpp" / "best_model.pth"
    out = tmp_path / "out"
    code = main(
        ["infer", "--model", str(model), "--video_dir", str(folder), "--output_dir", str(out)]
    )
    assert code == 0
    table = pd.read_csv(out / "predictions.csv")
    assert len(table) == 4  # every file listed, the broken one with its reason
    broken = table[table.video.str.endswith("broken.mp4")].iloc[0]
    assert broken.status != "ok" and np.isnan(broken.score)
    scored = table[table.status == "ok"]
    assert len(scored) == 3 and scored.score.between(0, 1).all()


def test_train_and_evaluate_commands_by_hand(tiny_run, tmp_path, capsys):
    from istvt.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(TINY))
    manifest = tiny_run / "results" / "manifests" / "dfdc_demo.csv"
    faces = tiny_run / "results" / "faces" / "dfdc_demo"
    out = tmp_path / "model"
    assert (
        main(
            [
                "train",
                str(manifest),
                str(faces),
                str(out),
                "--config",
                str(config),
                "--option",
                "epochs=1",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    assert "validation video AUC" in capsys.readouterr().out
    assert list(pd.read_csv(out / "train_log.csv").epoch) == [1]
    assert not (out / "train_state.pt").exists()
    assert (
        main(
            [
                "evaluate",
                str(out / "best_model.pth"),
                str(manifest),
                str(faces),
                str(tmp_path / "eval"),
                "--bootstrap",
                "20",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert f"{metrics['scored']} of {metrics['videos']} videos scored" in printed
    test_videos = pd.read_csv(manifest).query("split == 'test'").video_id
    assert sorted(pd.read_csv(tmp_path / "eval" / "predictions.csv").video_id) == sorted(
        test_videos
    )
    assert metrics["precision_requested"] == "hardware"  # the default: never a timing
    assert metrics["precision"] == "fp32"  # on any CPU
    assert "precision hardware -> fp32" in printed
    scored = {}
    for path in ("fp32", "int8"):  # a precision asked for is the precision taken
        args = ["evaluate", str(out / "best_model.pth"), str(manifest), str(faces)]
        args += [str(tmp_path / path), "--bootstrap", "20", "--precision", path]
        assert main(args) == 0
        assert json.loads((tmp_path / path / "metrics.json").read_text())["precision"] == path
        scored[path] = pd.read_csv(tmp_path / path / "predictions.csv").score
    assert (scored["int8"] - scored["fp32"]).abs().max() < 0.05


def test_interpret_command_by_hand(tiny_run, tmp_path, capsys):
    from istvt.cli import main

    res = tiny_run / "results"
    args = [
        "interpret",
        str(res / "models" / "dfdc" / "best_model.pth"),
        str(res / "manifests" / "dfdc_demo.csv"),
        str(res / "faces" / "dfdc_demo"),
        str(tmp_path / "out"),
        "--masks",
        str(tiny_run / "resources" / "demo" / "dfdc"),
        "--heatmaps",
        "1",
        "--option",
        "max_clips=4",
        "--option",
        "methods=[lrp, random]",
        "--option",
        "fractions=[10]",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "ISTVT-LRP (spatial × temporal)" in printed
    faith = pd.read_csv(tmp_path / "out" / "faithfulness.csv")
    assert list(faith["map"]) == [
        "lrp", "lrp_spatial", "lrp_temporal", "lrp[readout=grid]",
        "lrp[gradient=False,readout=grid]", "random",
    ]  # fmt: skip
    assert (faith.clips == 4).all() and "acc@10%" in faith
    assert len(list((tmp_path / "out" / "heatmaps").glob("*.png"))) == 1
    assert main([*args[:5], "--option", "methods=[lime]"]) != 0
    assert "interpret.methods" in capsys.readouterr().err


def test_slurm_profile_dry_run_shows_each_rules_resources(tiny_run):
    """No cluster needed: the executor plugin plans the jobs with their sbatch resources."""
    proc = subprocess.run(
        command(tiny_run, "-n", "--profile", str(REPO / "profiles" / "slurm"))
        + ["--forcerun", "preprocess_shard", "train"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = {}
    for block in proc.stdout.split("rule ")[1:]:
        rule = block.split(":")[0]
        resources = [line for line in block.splitlines() if "resources:" in line]
        if resources:
            jobs.setdefault(rule, resources[0])
    assert "slurm_partition=gpu" in jobs["train"] and "gpu=4" in jobs["train"]
    assert "cpus_per_task=32" in jobs["train"] and "runtime=1440" in jobs["train"]
    assert "mem_mb=128000" in jobs["train"]
    shard = jobs["preprocess_shard"]
    assert "slurm_partition=cpu" in shard and "cpus_per_task=2" in shard
    assert "mem_mb=8000" in shard and "gpu" not in shard
    assert "gpu=1" in jobs["evaluate"] and "slurm_partition=gpu" in jobs["evaluate"]
    assert planned_jobs(proc.stdout)["preprocess_shard"] >= 4  # fanned out per shard


def test_train_rule_with_two_gpus_runs_torchrun(tiny_run):
    """gpu=2 launches two data-parallel processes (gloo on a CPU-only machine)."""
    from istvt.checkpoint import read_checkpoint

    model = tiny_run / "results" / "models" / "dfdc" / "best_model.pth"
    proc = snakemake(
        tiny_run,
        TINY,
        "--cores",
        "2",
        "--forcerun",
        "train",
        "--set-resources",
        "train:gpu=2",
        "--",  # the options before take lists: the target comes after --
        str(model.relative_to(tiny_run)),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert read_checkpoint(model)["extra"]["world_size"] == 2
    log = (tiny_run / "logs" / "train" / "dfdc.log").read_text()
    assert "torch.distributed.run" in log and "--nproc_per_node=2" in log
    assert "[rank 0]" in log and "(2 process(es))" in log

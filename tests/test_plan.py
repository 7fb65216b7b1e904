"""The plan of a workflow config (istvt.plan), unit-tested without Snakemake, its job
counts against Snakemake's own dry run, and `istvt plan`."""

import copy
import json
import subprocess
import sys

import pytest
import yaml

from istvt.data.demo import DemoOptions, expected_videos, generate_demo
from istvt.data.manifest import build_manifest
from istvt.plan import PlanError, make_plan

from .conftest import REPO
from .test_workflow import TINY, _checkout, _dry_run, _paper_config, planned_jobs

DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
PAPER = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


def test_default_plan_holds_every_stage_of_the_demo():
    plan = make_plan(copy.deepcopy(DEFAULT))
    assert plan.demo_roots == [
        "resources/demo/celebdf",
        "resources/demo/dfdc",
        "resources/demo/ffpp",
        "resources/demo/selfblend",
    ]
    assert plan.main_experiments == ["ffpp", "celebdf", "dfdc"]
    # the ablation base row reads the celebdf experiment: it is not trained twice
    assert {
        r["experiment"] for r in plan.ablation_rows if r["value"] in ("temporal_first+ss", 6, 2)
    } == {"celebdf"}
    assert len(plan.experiments) == 7 and "abl-celebdf_demo-base" not in plan.experiments
    # the T=4 ablation model reads clips extracted at its own length
    assert (
        plan.data_of("celebdf_demo", "abl-celebdf_demo-T4")["faces"]
        == "results/faces/length-4/celebdf_demo"
    )
    assert plan.data_of("celebdf_demo", "celebdf")["faces"] == "results/faces/celebdf_demo"
    assert ("celebdf", "celebdf_demo", "compression", "30") in plan.robustness
    assert ("jpeg", "50") in plan.clip_grid and ("compression", "30") not in plan.clip_grid
    assert plan.interpreted == ["ffpp", "celebdf", "dfdc"]
    assert plan.training_figures["ablations"].endswith("training_curves_ablations.png")


def test_a_demo_set_is_named_by_its_root_and_written_in_its_own_layout():
    config = copy.deepcopy(DEFAULT)
    config["datasets"]["selfblend_demo"]["layout"] = "ffpp"
    with pytest.raises(PlanError, match="selfblend is written in the folder layout"):
        make_plan(config)
    config = copy.deepcopy(DEFAULT)
    config["datasets"]["selfblend_demo"]["root"] = "resources/demo/blends"
    with pytest.raises(PlanError, match="resources/demo/<set>, <set> one of"):
        make_plan(config)
    opts = DemoOptions(identities=10)
    assert expected_videos("selfblend", opts) == {"train": 0, "val": 0, "test": 9}


def test_the_costliest_training_has_the_highest_priority_and_data_ranks_above_all():
    from istvt.plan import DATA_PRIORITY

    plan = make_plan(DEFAULT)
    prio = {e: plan.train_priority(e) for e in plan.experiments}
    # ffpp trains 8 entry-flow epochs + 7 (15 in all) against 12 for the others
    assert prio["ffpp"] == 50 == max(prio.values())
    assert prio["celebdf"] == prio["dfdc"] < prio["ffpp"]
    # a shorter clip costs less per epoch: T=4 against the base row's T=6
    assert prio["abl-celebdf_demo-T4"] < prio["celebdf"]
    assert all(1 <= p < DATA_PRIORITY for p in prio.values())


def test_plan_reads_only_the_splits_its_experiments_use(tmp_path):
    config = _paper_config(tmp_path)
    plan = make_plan(config)
    assert plan.dataset_splits("dfdc") == ["test"]  # a test set only
    assert plan.dataset_splits("celebdf") == ["test", "train", "val"]
    assert plan.faceset("length-4/ffpp_c40") == ("results/manifests/ffpp_c40.csv", "ffpp_c40", 4)
    assert plan.faceset_options("length-4/ffpp_c40")["sequence_length"] == 4


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c["experiments"]["ffpp"].update(dataset="nope"), "experiments.ffpp.dataset"),
        (lambda c: c["experiments"]["ffpp"].update(test=["nope"]), "experiments.ffpp.test"),
        (lambda c: c["robustness"].update(experiments=["nope"]), "robustness.experiments"),
        (lambda c: c["robustness"]["perturbations"].update(nope=[1]), "robustness.perturbations"),
        (lambda c: c["report"]["table1"].update(nope="ffpp/ffpp_demo"), "report.table1"),
        (lambda c: c["interpret"].update(experiments=["nope"]), "interpret.experiments"),
        (lambda c: c["train"].update(optimizer="nope"), "train"),
        (lambda c: c["datasets"]["ffpp_demo"].update(root="elsewhere"), "datasets.ffpp_demo"),
        # 128-px demo frames film ~54-px faces: dlib needs the detection image upsampled
        (
            lambda c: c["datasets"]["ffpp_demo"]["preprocess"].update(detect_upsample=0),
            "datasets.ffpp_demo",
        ),
        (lambda c: c["demo"].update(size=64), "demo"),
    ],
)
def test_a_bad_config_names_its_key(change, key):
    config = copy.deepcopy(DEFAULT)
    change(config)
    with pytest.raises(PlanError, match=key.replace(".", r"\.")):
        make_plan(config)


def test_missing_roots_are_recorded_or_refused(tmp_path):
    config = copy.deepcopy(PAPER)
    with pytest.raises(PlanError, match=r"datasets\.ffpp_c23\.root"):
        make_plan(config)
    plan = make_plan(config, require_roots=False)
    assert set(plan.missing_roots) == set(PAPER["datasets"])
    assert plan.jobs()["train"] == 43  # the rest of the plan is still there


def test_demo_counts_before_the_demo_exists_match_the_generated_manifests(tmp_path):
    options = DemoOptions(identities=8, frames=8, size=192)
    generate_demo(tmp_path, options)
    for layout, extra in (
        ("ffpp", {}),
        ("celebdf", {"val_fraction": 0.2}),
        ("dfdc", {"val_fraction": 0.2}),
    ):
        manifest = build_manifest(layout, tmp_path / layout, **extra)
        counts = manifest["split"].value_counts().to_dict()
        want = expected_videos(layout, options, extra.get("val_fraction", 0.1))
        assert want["test"] == counts["test"], layout
        assert want["train"] + want["val"] == counts["train"] + counts["val"], layout
        if layout == "ffpp":  # split files: exact
            assert want == counts


def test_plan_job_counts_equal_snakemakes_dry_run(tmp_path):
    """For the default config and config/paper.yaml (with data trees in place), every
    rule's job count of istvt.plan equals the 'Job stats' of `snakemake -n`."""
    root = _checkout(tmp_path)
    paper = _paper_config(tmp_path)
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(paper))
    for config, args in ((DEFAULT, ()), (paper, ("--configfile", str(tmp_path / "paper.yaml")))):
        proc, jobs = _dry_run(root, *args)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert make_plan(copy.deepcopy(config)).jobs() == {
            k: v for k, v in jobs.items() if k != "total"
        }


def test_tiny_plan_job_counts_equal_snakemakes_dry_run(tmp_path):
    """Another clip length in a test set of another data set, a restricted test set and
    video-level robustness."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(TINY))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(tmp_path / "config.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    jobs = planned_jobs(proc.stdout)
    jobs.pop("total", None)
    assert make_plan(copy.deepcopy(TINY)).jobs() == jobs


def _istvt_plan(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "istvt.cli", "plan", *args], cwd=root, capture_output=True, text=True
    )


def test_istvt_plan_on_the_default_config_and_on_the_paper_without_data(tmp_path):
    root = _checkout(tmp_path)
    proc = _istvt_plan(root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        "| ffpp_demo | ffpp | resources/demo/ffpp | 160* | 60* | 100* | made by demo_data |"
        in proc.stdout
    )
    assert "| train | 7 |" in proc.stdout and "H200 GPU-hours" in proc.stdout

    proc = _istvt_plan(root, "--configfile", "config/paper.yaml", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert set(summary["missing_roots"]) == {f"datasets.{n}.root" for n in PAPER["datasets"]}
    assert summary["jobs"]["train"] == 43 and summary["jobs"]["evaluate"] == 47
    assert summary["datasets"]["dfdc"]["splits_read"] == ["test"]
    # originals and five methods (FaceShifter too: the Table II column), official splits
    assert summary["datasets"]["ffpp_c23"]["videos"] == {"train": 4320, "val": 840, "test": 840}
    training = summary["cost"]["stages"]["training"]
    assert training["gpu_hours"] > 1000 and training["jobs"] == 43

    proc = _istvt_plan(root, "--configfile", "config/paper.yaml")
    assert proc.returncode == 0 and "datasets.celebdf.root" in proc.stdout
    assert "(missing)" in proc.stdout

    proc = _istvt_plan(root, "--configfile", "nope.yaml")
    assert proc.returncode == 2 and "nope.yaml" in proc.stderr


def test_the_cost_estimate_counts_entry_flow_epochs():
    from istvt.cost import plan_summary

    plain = copy.deepcopy(DEFAULT)
    for experiment in plain["experiments"].values():
        experiment.pop("train", None)  # every model on the train section's recipe
    base = plan_summary(copy.deepcopy(plain), "plain")["cost"]["stages"]
    config = copy.deepcopy(plain)
    config["train"]["entry_epochs"] = config["train"]["epochs"]  # twice the epochs
    staged = plan_summary(config, "staged")["cost"]["stages"]
    assert staged["training"]["cpu_core_hours"] == pytest.approx(
        2 * base["training"]["cpu_core_hours"], rel=0.01
    )
    assert staged["evaluation"] == base["evaluation"]
    # the default config's own per-experiment stages (ffpp, dfdc: 8 + 7 epochs) count too
    default = plan_summary(copy.deepcopy(DEFAULT), "default")["cost"]["stages"]
    assert DEFAULT["experiments"]["ffpp"]["train"]["entry_epochs"] > 0
    hours = [s["training"]["cpu_core_hours"] for s in (base, default, staged)]
    assert hours[0] < hours[1] < hours[2], hours


def test_the_plan_gives_each_trainings_wall_time_and_its_jobs_under_a_time_limit():
    from istvt.cost import plan_summary, segments, stop_margin_hours

    assert stop_margin_hours(24) == 300 / 3600 and stop_margin_hours(1 / 60) == 10 / 3600
    assert segments(50.0, 24.0) == 3 and segments(23.9, 24.0) == 1 and segments(1, None) is None
    config = copy.deepcopy(PAPER)
    config["gpus"] = {**config.get("gpus", {}), "train": 4}
    summary = plan_summary(config, "paper", time_limit_minutes=24 * 60)
    trainings = summary["trainings"]
    assert len(trainings) == summary["jobs"]["train"] == 43
    total = sum(t["gpu_wall_hours"] * t["gpus"] for t in trainings.values())
    assert total == pytest.approx(summary["cost"]["stages"]["training"]["gpu_hours"], rel=1e-3)
    for t in trainings.values():
        assert t["gpus"] == 4
        usable = 24 - 5 / 60
        assert (t["gpu_jobs"] - 1) * usable < t["gpu_wall_hours"] <= t["gpu_jobs"] * usable
    longest = max(trainings.values(), key=lambda t: t["gpu_wall_hours"])
    assert longest["gpu_jobs"] >= 1 and longest["cpu_jobs"] > longest["gpu_jobs"]


def test_a_cpu_class_calibration_scales_its_stages_and_trainings(monkeypatch):
    """Each stage's core-hours times the class's measured factor (benchmarks/plan_check.py);
    without a calibration, or with calibrate=False, the rates alone."""
    from istvt import cost

    rates = cost.load_rates()
    for entry in rates["cpus"].values():
        entry["calibration"] = {"demo data": 3.0, "training": 2.0, "evaluation": 0.5}
    monkeypatch.setattr(cost, "load_rates", lambda *a: copy.deepcopy(rates))
    raw = cost.plan_summary(copy.deepcopy(DEFAULT), "raw", calibrate=False)
    scaled = cost.plan_summary(copy.deepcopy(DEFAULT), "scaled")
    assert scaled["cost"]["cpu"]["calibrated"] and not raw["cost"]["cpu"]["calibrated"]
    before, after = raw["cost"]["stages"], scaled["cost"]["stages"]
    expected = {"demo data": 3.0, "training": 2.0, "evaluation": 0.5, "relevance maps": 1.0}
    for stage, factor in expected.items():
        assert after[stage]["cpu_core_hours"] == pytest.approx(
            factor * before[stage]["cpu_core_hours"], rel=0.01, abs=1e-3
        )
    for name, training in scaled["trainings"].items():
        assert training["cpu_wall_hours"] == pytest.approx(
            2.0 * raw["trainings"][name]["cpu_wall_hours"], rel=0.01
        )
    # a plan with no demo data sets has no "demo data" stage to scale
    paper = cost.plan_summary(copy.deepcopy(PAPER), "paper")["cost"]["stages"]
    assert "demo data" not in paper
    # a misspelt stage is an error, not a factor silently unused
    for entry in rates["cpus"].values():
        entry["calibration"] = {"trainng": 2.0}
    with pytest.raises(ValueError, match="unknown stages"):
        cost.plan_summary(copy.deepcopy(DEFAULT), "typo")

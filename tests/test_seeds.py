"""Training seeds as a workflow feature: the plan's runs, tables over seeds, paired tests."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from istvt.plan import PlanError, make_plan
from istvt.report.ablation import ablation_table, table_markdown
from istvt.report.seeds import over_seeds, paired_tests, spread_text
from istvt.report.tables import results_matrix, table2

from .workflow_helpers import REPO, TINY, snakemake


def _config(**changes):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(changes)
    return config


def test_one_seed_keeps_the_experiment_names_and_several_get_a_seed_level():
    one = make_plan(_config())
    assert one.seeds == [0] and "ffpp" in one.experiments
    assert one.experiments["ffpp"]["seed"] == 0 and one.experiments["ffpp"]["name"] == "ffpp"
    three = make_plan(_config(seeds=[0, 1, 2]))
    assert [r for r in three.experiments if r.startswith("ffpp")] == [
        "ffpp/seed-0",
        "ffpp/seed-1",
        "ffpp/seed-2",
    ]
    assert three.experiments["ffpp/seed-2"]["train"]["seed"] == 2
    assert len(three.experiments) == 3 * len(one.experiments)
    assert three.jobs()["train"] == 3 * one.jobs()["train"]
    assert three.jobs()["interpret"] == 3 * one.jobs()["interpret"]
    assert three.jobs()["ablation_table"] == one.jobs()["ablation_table"]  # rows over seeds
    assert {r["seed"] for r in three.ablation_rows} == {0, 1, 2}
    assert all(r["experiment"].endswith(f"/seed-{r['seed']}") for r in three.ablation_rows)
    assert three.seed_runs("dfdc") == {s: f"dfdc/seed-{s}" for s in (0, 1, 2)}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"seed": 1}, "seed: 1 and seeds: \\[0\\] disagree"),
        ({"seeds": [0, 0]}, "distinct"),
        ({"seeds": [0, 1], "train": {"seed": 3}}, "train.seed fixes one training seed"),
        ({"evaluate": {"precision": "auto"}}, "evaluate.precision: auto"),
    ],
)
def test_a_seed_or_precision_mistake_names_its_key(changes, message):
    config = _config()
    for key, value in changes.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(PlanError, match=message):
        make_plan(config)


def test_over_seeds_gives_mean_sd_and_each_seeds_value():
    long = pd.DataFrame(
        {"cell": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "auc": [90.0, 94.0, 80.0, math.nan]}
    )
    wide = over_seeds(long, ["cell"], ["auc"], [0, 1]).set_index("cell")
    assert wide.loc["a", "auc"] == 92.0 and wide.loc["a", "auc_sd"] == pytest.approx(2.828, 1e-3)
    assert (wide.loc["a", "auc_seed0"], wide.loc["a", "auc_seed1"]) == (90.0, 94.0)
    assert wide.loc["b", "auc"] == 80.0 and math.isnan(wide.loc["b", "auc_sd"])
    clean = long[long.cell == "a"].assign(cell=math.nan)  # a NaN key (robustness's clean
    assert over_seeds(clean, ["cell"], ["auc"], [0, 1])["auc"].tolist() == [92.0]  # level)
    assert spread_text([90.0, 94.0]) == "92.0 ± 2.8"
    assert spread_text([90.0], 85.0, 95.0) == "90.0 [85.0, 95.0]"


def _scores(seed: int, strength: float, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    score = 1 / (1 + np.exp(-(strength * (2 * labels - 1) + rng.normal(0, 1, n))))
    return pd.DataFrame(
        {
            "video_id": [f"v{i:02d}" for i in range(n)],
            "label": labels,
            "method": np.where(labels == 1, "Deepfakes", "original"),
            "status": "ok",
            "clips": 1,
            "score": score,
            "clip_scores": [f"{s:.5f}" for s in score],
        }
    )


def test_table2_over_two_seeds_says_whether_the_paper_lies_within():
    runs = {0: _scores(0, 1.0), 1: _scores(1, 1.5)}
    paths = {0: "fp32", 1: "bf16"}  # the path each seed's evaluation was scored on
    df, md = table2(
        {"celebdf": "m/t"}, lambda e, t: runs, bootstrap=50, precision=lambda e, t, s: paths[s]
    )
    row = df.set_index("cell").loc["celebdf"]
    from sklearn.metrics import roc_auc_score

    aucs = [100 * roc_auc_score(p.label, p.score) for p in runs.values()]
    assert row["ours_auc"] == round(np.mean(aucs), 1)  # the mean of unrounded seeds
    assert row["precision"] == "bf16,fp32" and "(40 videos, bf16,fp32)" in md
    assert row["sd"] == pytest.approx(np.std(aucs, ddof=1), abs=0.06)
    assert row["seeds"] == 2 and math.isnan(row["ci95_lo"])
    assert (row["seed0_auc"], row["seed1_auc"]) == pytest.approx(aucs, abs=0.06)
    paper = row["paper_auc"]
    assert row["paper_in_seed_range"] == ("yes" if min(aucs) <= paper <= max(aucs) else "no")
    assert row["paper_in_ci_of_seeds"].endswith("/2")
    assert " ± " in md and "paper within ours" in md


def test_paired_tests_a_model_against_itself_and_against_a_constant():
    model = {s: _scores(s, 2.0) for s in (0, 1)}
    constant = {s: p.assign(score=0.5) for s, p in model.items()}
    loads = {"m": model, "same": {s: p.copy() for s, p in model.items()}, "c": constant}
    evaluations = [("m", "t"), ("same", "t"), ("c", "t")]
    df, md = paired_tests(evaluations, lambda e, t: loads[e], [0, 1])
    by = df.set_index(["model_a", "model_b", "seed"])
    for seed in ("0", "1", "pooled"):
        assert by.loc[("m", "same", seed), "diff"] == 0 and by.loc[("m", "same", seed), "p"] == 1
        assert by.loc[("m", "c", seed), "p"] < 1e-3 and by.loc[("m", "c", seed), "diff_lo"] > 0
    assert "| t | m | c | 40 |" in md and "< 0.001" in md


def test_the_matrix_and_an_ablation_table_over_two_seeds():
    def metrics(auc):
        ci = {f"{k}_{e}": v for k in ("acc", "auc", "eer", "ap") for e, v in (("lo", 0), ("hi", 1))}
        video = {"acc": 0.5, "auc": auc, "eer": 0.1, "ap": 0.9}
        return {"videos": 40, "scored": 40, "video": video, "video_ci95": ci,
                "clip": {"acc": 0.5, "auc": auc}, "precision": "fp32"}  # fmt: skip

    runs = {"m/seed-0": ("m", 0), "m/seed-1": ("m", 1)}
    matrix = results_matrix(
        {("m/seed-0", "t"): metrics(0.9), ("m/seed-1", "t"): metrics(0.8)}, {}, runs
    )
    row = matrix.iloc[0]
    assert (row["video_auc"], row["video_auc_seed0"], row["video_auc_seed1"]) == pytest.approx(
        (0.85, 0.9, 0.8)
    )
    assert row["video_auc_sd"] == pytest.approx(0.0707, abs=1e-4) and row["seeds"] == 2
    assert math.isnan(row["video_auc_lo"]) and row["precision"] == "fp32"

    from istvt.ablation import ablation_experiments
    from istvt.config import ModelConfig

    base = ModelConfig.from_dict(copy.deepcopy(TINY["model"]))
    spec = {"num_layers": {"dataset": "cdf", "values": [1, 2]}}
    experiments, rows = ablation_experiments(spec, base, {"cdf"})
    rows = [{**r, "experiment": f"{r['experiment']}/{s}", "name": r["experiment"], "seed": s}
            for r in rows for s in (0, 1)]  # fmt: skip
    models = {r["experiment"]: experiments[r["name"]]["model"] for r in rows}
    strength = {True: 2.5, False: 0.3}  # the full model finds the fakes, the other barely
    predictions = {r["experiment"]: _scores(r["seed"], strength[r["base"]]) for r in rows}
    metrics_of_run = {run: metrics(0.7) for run in predictions}
    frame = ablation_table("num_layers", rows, metrics_of_run, models, predictions)
    other = frame[~frame.base].iloc[0]
    assert other["auc_diff"] < 0 and other["p"] < 0.01
    assert {"p_seed0", "p_seed1", "auc_seed0", "auc_seed1", "auc_sd"} <= set(frame.columns)
    assert math.isnan(frame[frame.base].iloc[0]["p"])
    md = table_markdown("num_layers", frame)
    assert "(full model)" in md and "mean ± sd over 2 training seeds" in md


@pytest.mark.slow
def test_a_two_seed_run_writes_seed_level_paths_and_tables_over_seeds(tiny_run, tmp_path):
    """The tiny run's data and faces, its two experiments trained with seeds 0 and 1."""
    import shutil

    work = tmp_path / "two"
    shutil.copytree(tiny_run, work, symlinks=True)
    shutil.rmtree(work / "results" / "models")
    config = {k: v for k, v in copy.deepcopy(TINY).items() if k != "seed"}
    config.pop("ablations")
    config["interpret"] = {**config["interpret"], "experiments": ["dfdc"], "max_clips": 4}
    config["interpret"]["methods"] = ["lrp", "random"]
    config["robustness"] = {"experiments": ["dfdc"], "perturbations": {"jpeg": [30]}}
    config["seeds"] = [0, 1]
    targets = ["results/tables/all_results.csv", "results/tables/paired_tests.csv"]
    targets += ["results/tables/robustness_dfdc.csv"]
    targets += ["results/interpret/dfdc/faithfulness_over_seeds.csv"]
    proc = snakemake(work, config, "--cores", "2", *targets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = work / "results"
    for experiment in ("ffpp", "dfdc"):
        for seed in (0, 1):
            assert (res / "models" / experiment / f"seed-{seed}" / "best_model.pth").is_file()
            assert (res / "predictions" / experiment / f"seed-{seed}" / "dfdc_demo.csv").is_file()
    a, b = (
        pd.read_csv(res / "predictions" / "dfdc" / f"seed-{s}" / "dfdc_demo.csv") for s in (0, 1)
    )
    assert not np.allclose(a.score, b.score)  # two trainings, not one twice
    matrix = pd.read_csv(res / "tables" / "all_results.csv").set_index(["experiment", "testset"])
    row = matrix.loc[("dfdc", "dfdc_demo")]
    assert row["seeds"] == 2
    assert row["video_auc"] == pytest.approx((row["video_auc_seed0"] + row["video_auc_seed1"]) / 2)
    assert row["video_auc_sd"] == pytest.approx(
        abs(row["video_auc_seed0"] - row["video_auc_seed1"]) / np.sqrt(2)
    )
    paired = pd.read_csv(res / "tables" / "paired_tests.csv", dtype={"seed": str})
    pair = paired[paired.testset == "dfdc_demo"]
    assert set(pair.seed) == {"0", "1", "pooled"}
    assert {*pair.model_a, *pair.model_b} == {"ffpp", "dfdc"}
    assert pair.p.between(0, 1).all()
    assert "± " in (res / "tables" / "all_results.md").read_text()
    robustness = pd.read_csv(res / "tables" / "robustness_dfdc.csv")
    assert list(robustness.perturbation) == ["none", "jpeg"]
    assert (robustness.seeds == 2).all() and {"auc_seed0", "auc_seed1", "auc_sd"} <= set(
        robustness.columns
    )
    clean = robustness.iloc[0]
    assert clean.auc == pytest.approx(100 * row["video_auc"])  # the clean row is the matrix's
    faith = pd.read_csv(res / "interpret" / "dfdc" / "faithfulness_over_seeds.csv")
    lrp = faith.set_index("map").loc["lrp"]
    per_seed = [
        pd.read_csv(res / "interpret" / "dfdc" / f"seed-{s}" / "faithfulness.csv")
        .set_index("map")
        .loc["lrp", "mask_mass"]  # finite on the tiny model (a deletion gain may not be)
        for s in (0, 1)
    ]
    assert lrp.mask_mass == pytest.approx(np.mean(per_seed))
    assert [lrp.mask_mass_seed0, lrp.mask_mass_seed1] == pytest.approx(per_seed)

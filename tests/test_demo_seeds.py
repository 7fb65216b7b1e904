"""The seed report's helpers (benchmarks/demo_seeds.py)."""

import sys
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def demo_seeds():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import demo_seeds
    finally:
        sys.path.remove(str(BENCHMARKS))
    return demo_seeds


def test_method_aucs_by_hand(demo_seeds):
    predictions = pd.DataFrame(
        {
            "label": [0, 0, 0, 0, 1, 1, 1, 1, 1],
            "method": ["original"] * 4 + ["A", "A", "B", "B", "B"],
            "score": [0.1, 0.2, 0.3, 0.9, 0.95, 0.8, 0.05, 0.15, None],
        }
    )
    aucs = demo_seeds.method_aucs(predictions)
    # A: 0.95 beats all 4 reals, 0.8 beats 3 -> 7/8; B (unscored video dropped): 0.05 beats
    # none, 0.15 beats one -> 1/8
    assert aucs == pytest.approx({"A": 87.5, "B": 12.5})
    one_method = predictions[predictions["method"].isin(["original", "A"])]
    assert demo_seeds.method_aucs(one_method) == {}


def test_a_finished_run_reports_the_seed_its_metrics_recorded(demo_seeds, tmp_path):
    import json

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("seed: 0\n")
    assert demo_seeds.run_seed_of(tmp_path) == 0  # no metrics yet: the config file's
    metrics = tmp_path / "results" / "metrics" / "celebdf"
    metrics.mkdir(parents=True)
    # a run started with --config seed=2: the file still says 0, the metrics say 2
    (metrics / "celebdf_demo.json").write_text(json.dumps({"provenance": {"config": {"seed": 2}}}))
    assert demo_seeds.run_seed_of(tmp_path) == 2


def test_dfdc_demo_fakes_are_scored_per_kind(demo_seeds):
    predictions = pd.DataFrame(
        {
            "video_id": ["test/r1", "test/r2", "test/a", "test/b", "test/c"],
            "label": [0, 0, 1, 1, 1],
            "method": ["original", "original", "dfdc", "dfdc", "dfdc"],
            "score": [0.1, 0.6, 0.9, 0.2, 0.7],
        }
    )
    assert demo_seeds.method_aucs(predictions) == {}  # one method: no split
    kinds = {"test/a": "swap", "test/b": "self-blend", "test/c": "self-blend"}
    # swap: 0.9 beats both reals; self-blend: 0.2 beats one, 0.7 both -> 3/4
    aucs = demo_seeds.method_aucs(demo_seeds.with_kinds(predictions, kinds))
    assert aucs == pytest.approx({"swap": 100.0, "self-blend": 75.0})
    assert demo_seeds.with_kinds(predictions, {}) is predictions


def test_fakes_by_photo_splits_each_kind_by_the_photographs_of_its_people():
    """benchmarks/fakes_by_photo.py: AUCs by hand on two reals and four fakes."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import fakes_by_photo
    finally:
        sys.path.remove(str(BENCHMARKS))
    predictions = pd.DataFrame(
        {
            "video_id": ["r0", "r1", "test/a", "test/b", "test/c", "test/d"],
            "label": [0, 0, 1, 1, 1, 1],
            "score": [0.2, 0.6, 0.9, 0.4, 0.1, 0.7],
        }
    )
    kinds = pd.DataFrame(
        {
            "video_id": ["test/a", "test/b", "test/c", "test/d"],
            "kind": ["DF-128", "DF-128", "DF-128", "StyleGAN"],
            "target": ["person00", "person00", "person01", "person01"],
            # same photograph (even indices), the other one, same, a face of both
            "source": ["person02", "person01", "person03", "nobody-person02-person03"],
        }
    )
    table = fakes_by_photo.table(predictions, kinds).set_index(["kind", "pairing"])
    # same photograph: fakes 0.9 and 0.1 against reals 0.2, 0.6: 2 of 4 pairs won
    assert table.loc[("DF-128", "same photograph"), "AUC %"] == pytest.approx(50.0)
    assert table.loc[("DF-128", "same photograph"), "fakes"] == 2
    assert table.loc[("DF-128", "other photograph"), "AUC %"] == pytest.approx(50.0)  # 0.4
    assert table.loc[("StyleGAN", "both photographs"), "AUC %"] == pytest.approx(100.0)
    assert table.loc[("all", "same photograph"), "fakes"] == 2

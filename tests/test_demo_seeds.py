"""The seed report's helpers (benchmarks/demo_seeds.py)."""

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def demo_seeds():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import demo_seeds
    finally:
        sys.path.remove(str(BENCHMARKS))
    return demo_seeds


def test_the_seed_table_reads_a_two_seed_run(demo_seeds, tmp_path):
    """A run's own tables (one column per seed) and each seed's faithfulness table."""
    (tmp_path / "config").mkdir()
    config = {"experiments": {"ffpp": {"dataset": "ffpp_demo", "test": ["ffpp_demo"]}}}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    tables = tmp_path / "results" / "tables"
    tables.mkdir(parents=True)
    matrix = {"experiment": "ffpp", "testset": "ffpp_demo", "scored": 40}
    for s, (auc, lo, acc) in enumerate(((0.96, 0.90, 0.9), (0.92, 0.80, 0.85))):
        matrix |= {f"video_auc_seed{s}": auc, f"video_auc_lo_seed{s}": lo}
        matrix |= {f"video_acc_seed{s}": acc}
    pd.DataFrame([matrix]).to_csv(tables / "all_results.csv", index=False)
    per_method = [
        {"experiment": "ffpp", "testset": "ffpp_demo", "method": m, "video_auc_seed0": v,
         "video_auc_seed1": v - 10}
        for m, v in (("Deepfakes", 99.0), ("FaceSwap", 90.0))
    ]  # fmt: skip
    pd.DataFrame(per_method).to_csv(tables / "per_method.csv", index=False)
    for s, gain in ((0, 20.0), (1, 10.0)):
        folder = tmp_path / "results" / "interpret" / "ffpp" / f"seed-{s}"
        folder.mkdir(parents=True)
        faith = [{"map": "lrp", "pointing_gain": gain, "mass_gain": 6.0}]
        pd.DataFrame(faith).to_csv(folder / "faithfulness.csv", index=False)
    rows = demo_seeds.seed_rows(tmp_path)
    assert list(rows.seed) == [0, 1]
    assert rows["AUC %"].tolist() == pytest.approx([96.0, 92.0])
    assert rows["CI low %"].tolist() == pytest.approx([90.0, 80.0])
    assert rows["LRP PG gain"].tolist() == [20.0, 10.0]
    assert rows["AUC % per method"].tolist() == [
        "Deepfakes 99, FaceSwap 90",
        "Deepfakes 89, FaceSwap 80",
    ]
    table = demo_seeds.with_means(rows)
    assert table.iloc[-1]["seed"] == "mean ± sd" and table.iloc[-1]["AUC %"] == "94.0 ± 2.8"
    assert table.iloc[0]["CI low %"] == "90.0"  # seed rows rounded like the mean row
    # seed 0 meets both targets; seed 1 neither (AUC 92, pointing gain +10)
    assert demo_seeds.targets_met(rows) == (
        "AUC target (>= 95, lower bound >= 85, >= 30 videos) met in 1 of 2 rows; "
        "LRP targets (+15 / +5) in 1 of 2"
    )


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

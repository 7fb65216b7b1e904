"""The learning ladder's helpers (benchmarks/stall_ladder.py)."""

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def ladder():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import stall_ladder

        yield stall_ladder
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_method_aucs_scores_each_method_against_all_reals(ladder):
    vids = ["original/c23/000"] * 2 + ["Deepfakes/c23/000_001"] * 2 + ["Face2Face/c23/000_001"] * 2
    labels = np.array([0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.3, 0.9, 0.8, 0.05, 0.0])  # Deepfakes separated, Face2Face below
    out = ladder.method_aucs(labels, scores, vids)
    assert out == {"Deepfakes": 1.0, "Face2Face": 0.0}


def test_parse_rung_splits_model_fields_from_recipe_knobs(ladder):
    name, model, recipe = ladder.parse_rung("istvt:readout=mean,num_layers=1,lr=1e-3,aux=0.5")
    assert name == "istvt"
    assert model == {"readout": "mean", "num_layers": 1}
    assert recipe == {"lr": 1e-3, "aux": 0.5}

"""The ablation grid (Tables III-V) as experiments, and its tables."""

import numpy as np
import pytest

from istvt.ablation import ablation_experiments
from istvt.config import ConfigError, ModelConfig
from istvt.report.ablation import ablation_table, table_markdown

BASE = ModelConfig(
    sequence_length=6, num_layers=2, num_heads=2, dim_head=16, image_size=64, embed_dim=32
)
SPEC = {
    "attention": {"datasets": {"cdf": "celebdf"}, "variants": ["temporal_first+ss", "joint"]},
    "sequence_length": {"dataset": "cdf", "values": [4, 6]},
    "num_layers": {"dataset": "cdf", "values": [1, 2]},
}


def test_grid_shares_the_base_model_between_tables():
    experiments, rows = ablation_experiments(SPEC, BASE, {"cdf"})
    assert list(experiments) == [
        "abl-cdf-base",
        "abl-cdf-attn-joint",
        "abl-cdf-T4",
        "abl-cdf-M1",
    ]
    assert [r["experiment"] for r in rows] == [
        "abl-cdf-base",
        "abl-cdf-attn-joint",
        "abl-cdf-T4",
        "abl-cdf-base",
        "abl-cdf-M1",
        "abl-cdf-base",
    ]
    joint = ModelConfig.from_dict(experiments["abl-cdf-attn-joint"]["model"])
    assert (joint.attention, joint.self_subtract, joint.num_layers) == ("joint", False, 2)
    assert experiments["abl-cdf-T4"]["model"]["sequence_length"] == 4


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {"attention": {"datasets": {"cdf": "celebdf"}, "variants": ["joint+ss"]}},
            "self_subtract",
        ),
        ({"attention": {"datasets": {"cdf": "celebdf"}, "variants": ["diagonal"]}}, "'diagonal'"),
        ({"attention": {"datasets": {"cdf": "lq"}, "variants": ["joint"]}}, "paper column"),
        ({"num_layers": {"dataset": "nope", "values": [1]}}, "'nope'"),
        ({"depth": {}}, "unknown key"),
    ],
)
def test_bad_grids_name_the_key(spec, message):
    with pytest.raises(ConfigError, match=message):
        ablation_experiments(spec, BASE, {"cdf"})


def test_tables_put_the_paper_beside_ours():
    experiments, rows = ablation_experiments(SPEC, BASE, {"cdf"})
    models = {e: ex["model"] for e, ex in experiments.items()}
    metrics = {
        e: {"video": {"acc": 0.5 + 0.1 * i, "auc": None if i == 1 else 0.9}, "videos": 12}
        for i, e in enumerate(experiments)
    }
    att = ablation_table(
        "attention", [r for r in rows if r["table"] == "attention"], metrics, models
    )
    assert list(att.row) == ["temporal_first+ss", "joint"]
    assert list(att.paper_acc) == [99.8, 99.0] and list(att.paper_auc) == [99.9, 99.5]
    assert att.acc.tolist() == pytest.approx([50.0, 60.0]) and np.isnan(att.auc[1])
    length = ablation_table(
        "sequence_length", [r for r in rows if r["table"] == "sequence_length"], metrics, models
    )
    assert list(length.paper_gflops) == [167.9, 236.1] and list(length.paper_auc) == [96.5, 96.7]
    assert length.gflops[0] < length.gflops[1]  # our cost grows with T
    md = table_markdown("sequence_length", length)
    assert "Table IV" in md and "| cdf | 4 |" in md and "167.9" in md

"""The learning ladder's helpers (benchmarks/stall_ladder.py)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

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


def test_first_people_keeps_the_videos_of_the_first_target_people_of_one_split(ladder):
    import pandas as pd

    manifest = pd.DataFrame(
        {
            "video_id": ["r0", "r1", "r2", "f01", "f10", "f20", "v0", "v1"],
            "split": ["train"] * 6 + ["val"] * 2,
            "identities": ["id0", "id1", "id2", "id0|id1", "id1|id0", "id2|id0", "id5", "id6"],
        }
    )
    kept = ladder.first_people(manifest, "train", 2)
    # id0 and id1 keep their reals and the fakes made on their videos (the source face
    # may be anyone's); id2's videos go; the other split is untouched
    assert list(kept.video_id) == ["r0", "r1", "f01", "f10", "v0", "v1"]


def test_parse_rung_splits_model_fields_from_recipe_knobs(ladder):
    name, model, recipe = ladder.parse_rung("istvt:readout=mean,num_layers=1,lr=1e-3,aux=0.5")
    assert name == "istvt"
    assert model == {"readout": "mean", "num_layers": 1}
    assert recipe == {"lr": 1e-3, "aux": 0.5}


def _clips(ids, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(60, 120, (len(ids), 4, 3, 64, 64), generator=gen, dtype=torch.uint8)
    y = np.array([0.0 if i.startswith("original") else 1.0 for i in ids], dtype=np.float32)
    x[y == 1, :, :, 20:36, 20:36] = 230  # a static cue on the fakes
    return x, y, ids


def test_rungs_train_and_one_csv_holds_every_data_set(ladder, tmp_path):
    import pandas as pd

    from .conftest import tiny_config

    fields = ("sequence_length", "num_layers", "num_heads", "dim_head", "image_size", "embed_dim")
    model = {k: getattr(tiny_config(), k) for k in fields}
    cfg = {"model": model, "train": {"epochs": 1, "batch_size": 4, "optimizer": "adamw"}}
    reals = ["original/c23/000", "original/c23/001"] * 4
    ffpp_ids = reals + ["Deepfakes/c23/000_001", "Face2Face/c23/001_000"] * 4
    other_ids = ["original/x", "fake/y"] * 8  # 16 clips: 4 batches for the gradient probe
    # the DFDC demo: its kinds file names each fake's kind (the layout names none)
    dfdc_ids = ["original/r", "p/blend", "original/r", "p/swap"] * 4
    dfdc_kinds = {"p/blend": "self-blend", "p/swap": "swap"}
    csv = tmp_path / "ladder.csv"
    cases = (
        ("ffpp", ffpp_ids, True, {}, "Deepfakes"),
        ("other", other_ids, False, {}, None),
        ("dfdc", dfdc_ids, True, dfdc_kinds, "self-blend"),
    )
    for name, ids, by_method, kinds, shown in cases:
        data = {"train": _clips(ids, 0), "val": _clips(ids, 1)}
        data.update(by_method=by_method, kinds=kinds)
        for spec in ("entry_pool", "istvt:entry_epochs=1,aux=0.5"):
            rows = ladder.train_rung(spec, cfg, data, seed=0)
            assert len(rows) == 1 and 0 <= rows[0]["val_clip_auc"] <= 1
            if shown:
                assert shown in rows[0]["method_aucs"]
            else:
                assert rows[0]["method_aucs"] == ""
            pd.DataFrame(rows).assign(dataset=name).to_csv(
                csv, mode="a", header=not csv.exists(), index=False
            )
    table = ladder.summarise(csv)
    assert table.count("entry_pool") == 3 and table.count("istvt:entry_epochs=1") == 3

"""Evaluation tables and the paper-layout tables, on hand-made predictions."""

import numpy as np
import pandas as pd
import pytest

from istvt.data.manifest.common import select_videos
from istvt.evaluate import metrics_of, predictions_table
from istvt.model.flops import paper_results
from istvt.report.tables import per_method, table1, table2


class FakeDataset:
    """What predictions_table reads from a ClipDataset: clip video ids and starts."""

    def __init__(self, video_ids, starts):
        self.video_ids, self.starts = list(video_ids), np.asarray(starts)


MANIFEST = pd.DataFrame(
    {
        "video_id": ["r1", "r2", "f1", "f2", "g1", "v1"],
        "label": [0, 0, 1, 1, 1, 0],
        "split": ["test"] * 5 + ["val"],
        "method": ["original", "original", "FaceSwap", "FaceSwap", "Deepfakes", "original"],
    }
)


def test_every_test_video_once_failed_ones_with_their_reason():
    rows = select_videos(MANIFEST, "test")
    assert list(rows.video_id) == ["r1", "r2", "f1", "f2", "g1"]  # never the val video
    data = FakeDataset(["r1", "r1", "f1", "f1", "g1", "f2"], [6, 0, 0, 6, 0, 0])
    scores = np.array([0.2, 0.4, 0.9, 0.7, 0.6, 0.8])
    status = pd.DataFrame({"video_id": ["r2"], "status": ["no_face"]})
    table = predictions_table(rows, data, scores, status)
    assert list(table.video_id) == list(rows.video_id)
    r1 = table.set_index("video_id").loc["r1"]
    assert r1.score == pytest.approx(0.3) and r1.clip_scores == "0.40000 0.20000"  # by start
    r2 = table.set_index("video_id").loc["r2"]
    assert r2.status == "no_face" and np.isnan(r2.score) and r2.clips == 0
    m = metrics_of(table, bootstrap=50)
    assert (m["videos"], m["scored"], m["unscored"]) == (5, 4, {"no_face": 1})
    assert m["video"]["auc"] == 1.0 and m["clips"] == 6


def test_methods_keep_the_reals_and_name_unknown_methods():
    rows = select_videos(MANIFEST, "test", ["Deepfakes"])
    assert list(rows.video_id) == ["r1", "r2", "g1"]
    with pytest.raises(ValueError, match="NeuralTextures"):
        select_videos(MANIFEST, "test", ["NeuralTextures"])


def _predictions():
    return pd.DataFrame(
        {
            "video_id": ["r1", "r2", "f1", "f2", "g1"],
            "label": [0, 0, 1, 1, 1],
            "method": ["original", "original", "FaceSwap", "FaceSwap", "Deepfakes"],
            "status": ["ok"] * 5,
            "clips": [1] * 5,
            "score": [0.1, 0.6, 0.9, 0.8, 0.4],
            "clip_scores": ["0.1", "0.6", "0.9", "0.8", "0.4"],
        }
    )


def test_table1_cells_with_a_method_and_the_paper_beside():
    loads = []

    def load(experiment, testset):
        loads.append((experiment, testset))
        return {0: _predictions()}  # one training seed

    spec = {"ffpp_c23/FaceSwap": "m/t/FaceSwap", "ffpp_c23/Deepfakes": "m/t/Deepfakes"}
    df, md = table1(spec, load, bootstrap=20)
    df = df.set_index("cell")
    # FaceSwap cell: reals r1 (0.1 ok), r2 (0.6 wrong) + f1, f2 (right) -> 75 %
    assert df.loc["ffpp_c23/FaceSwap", "ours_acc"] == 75.0
    # Deepfakes cell: r1 right, r2 wrong, g1 (0.4) wrong -> 33.3 %
    assert df.loc["ffpp_c23/Deepfakes", "ours_acc"] == 33.3
    assert df.loc["ffpp_c23/Deepfakes", "videos"] == 3
    paper = paper_results()["table1_accuracy"]
    assert df.loc["celebdf", "paper_acc"] == paper["celebdf"]
    assert np.isnan(df.loc["celebdf", "ours_acc"])
    assert "| FF++ HQ (c23) | 33.3 [" in md and set(loads) == {("m", "t")}
    with pytest.raises(ValueError, match="no NeuralTextures videos"):
        table1({"ffpp_c23/NeuralTextures": "m/t/NeuralTextures"}, load, bootstrap=5)


def test_table2_auc_mean_and_unknown_cells():
    df, md = table2({"celebdf": "m/t"}, lambda e, t: {0: _predictions()}, bootstrap=20)
    # reals 0.1, 0.6 vs fakes 0.9, 0.8, 0.4: 5 of 6 pairs ordered -> 83.3 %
    assert df.set_index("cell").loc["celebdf", "ours_auc"] == 83.3
    assert "| mean | 83.3 (over 1 of 4) | 89.1 |" in md
    with pytest.raises(ValueError, match="unknown cells"):
        table2({"youtube": "m/t"}, lambda e, t: {0: _predictions()})


def test_per_method_auc_against_all_reals_with_recorded_kinds():
    # reals 0.1, 0.6; FaceSwap 0.9, 0.8 (both above both reals); Deepfakes 0.4 (1 of 2)
    df, md = per_method([("m", "t"), ("n", "t")], lambda e, t: {0: _predictions()}, bootstrap=20)
    assert list(df.experiment) == ["m", "m", "n", "n"]  # every evaluation
    by = df[df.experiment == "m"].set_index("method")
    assert by.loc["FaceSwap", "video_auc"] == 100.0 and by.loc["Deepfakes", "video_auc"] == 50.0
    assert (by.loc["FaceSwap", "fakes"], by.loc["FaceSwap", "reals"]) == (2, 2)
    assert by.loc["Deepfakes", "video_acc"] == 33.3  # r1 right; r2 and g1 wrong
    assert "| m | t | Deepfakes | 1 / 2 | 50.0 [" in md
    # a layout that names no method: the recorded kinds split its fakes
    one = _predictions().assign(method=["original", "original", "dfdc", "dfdc", "dfdc"])
    kinds = {"t": {"f1": "swap", "f2": "self-blend", "g1": "self-blend"}}
    df, _ = per_method([("m", "t")], lambda e, t: {0: one}, kinds, bootstrap=20)
    assert df.set_index("method").video_auc.to_dict() == {"self-blend": 75.0, "swap": 100.0}
    # one method only (or an unscored video's method): no rows, and the table says so
    failed = one.assign(status=["ok", "ok", "ok", "ok", "no_face"])
    kinds = {"t": {"f1": "swap", "f2": "swap", "g1": "self-blend"}}
    df, md = per_method([("m", "t")], lambda e, t: {0: failed}, kinds, bootstrap=20)
    assert df.empty and "No test set" in md

"""Relevance maps on a case with a known answer (istvt.interpret.groundtruth).

A tiny ISTVT learns clips whose only cue is a checkerboard patch in one frame; on
held-out fakes a map that says *when* a clip is fake must point at that frame. About
a minute on 2 cores.

What is asserted and what is not, and why (docs/interpretability.md, "A case with a
known answer"):

* the known frame is the model's own answer: replacing that frame's tokens by the
  clip without its patch removes the fake logit more than replacing any other frame;
* the maps that find it (>= 90 % of held-out fakes): attention rollout and raw
  attention, and ISTVT-LRP without Eq. 4's gradient factor, each with the paper's
  temporal map and with the grid readout;
* not asserted: ISTVT-LRP with Eq. 4 as the paper writes it, which finds the frame
  in fewer (about 70-85 % on the CPUs measured): that is the finding the docs report,
  not a property to hold;
* not asserted: *where* in the frame. The entry flow's receptive field spans the whole
  64-px frame and the trained model reads the patch from every token of its frame
  (replacing any one token moves its logit by a few % of what replacing the frame
  does), so no token map can point at one cell for a reason of the model's.
"""

import pytest
import torch

from istvt.interpret.groundtruth import accuracy, make_clips, measure, train_model

#: (map, part) that claim to find the frame, and do
FINDS_THE_FRAME = [
    ("attention rollout", "temporal"),
    ("attention rollout", "grid"),
    ("raw attention", "temporal"),
    ("raw attention", "grid"),
    ("ISTVT-LRP, no gradient", "temporal"),
    ("ISTVT-LRP, no gradient", "grid"),
]


@pytest.fixture(scope="module")
def groundtruth():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = train_model(make_clips(512, seed=0), epochs=2)
        test = make_clips(128, seed=1)
        return accuracy(model, test), measure(model, test).set_index(["map", "part"])
    finally:
        torch.set_num_threads(threads)


def test_the_model_learned_the_cue_and_the_frame_is_its_answer(groundtruth):
    acc, table = groundtruth
    assert acc >= 95, table
    occlusion = table.loc[("token occlusion", "the model")]
    assert occlusion.frame >= 95, table


@pytest.mark.parametrize("name,part", FINDS_THE_FRAME, ids=[" ".join(m) for m in FINDS_THE_FRAME])
def test_maps_find_the_fake_frame(groundtruth, name, part):
    _, table = groundtruth
    assert table.loc[(name, part), "frame"] >= 90, table.round(1).to_string()


def test_the_table_has_every_map_and_the_paper_variant(groundtruth):
    _, table = groundtruth
    names = set(table.index.get_level_values(0))
    assert {"ISTVT-LRP", "ISTVT-LRP, mean_then_clamp", "Grad-CAM", "token occlusion"} <= names
    # the paper's readout gives spatial and temporal maps; the grid readout one joint map
    assert {"joint", "spatial", "temporal", "grid"} == set(table.loc["ISTVT-LRP"].index)
    assert ((table[["frame", "patch", "token"]].fillna(0) >= 0) & (table.fillna(0) <= 100)).all(
        axis=None
    )


def test_clips_hold_the_patch_where_they_say():
    clips = make_clips(6, seed=3)
    raw = clips.frames * 0.5 + 0.5
    for i in range(6):
        diff = (raw[i] - raw[i].median(0).values).abs().mean(1)  # (T, S, S) against the still
        if clips.labels[i] == 0:
            assert diff.max() < 0.2
            continue
        t, cell = int(clips.frame[i]), int(clips.cell[i])
        r, c = divmod(cell, 4)
        assert diff[t, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16].mean() > 0.3
        diff[t, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] = 0
        assert diff.max() < 0.2

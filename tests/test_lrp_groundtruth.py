"""Relevance maps on a case with a known answer (istvt.interpret.groundtruth).

A tiny ISTVT with a patch stem (one token per 16-px cell, so a token sees its own cell
only) learns clips whose only cue is a checkerboard patch on one cell of one frame; on
held-out fakes a map that says *when* a clip is fake must point at that frame, and one
that says *where* at that cell. About 10 s on 2 cores.

What is asserted and what is not, and why (docs/interpretability.md, "A case with a
known answer"):

* the known frame and cell are the model's own answer: replacing the patch frame's
  tokens by the clip without its patch removes the fake logit more than replacing any
  other frame, and replacing the patch's one token removes most of what the frame does;
* the maps that find both (>= 90 % of held-out fakes for frame, cell in the frame and
  top token): the grid readout of attention rollout, raw attention and ISTVT-LRP
  without Eq. 4's gradient factor, and that ISTVT-LRP's temporal map;
* the temporal maps of rollout and raw attention find the cell in the patch frame; not
  their frame total: every position's attention over frames counts alike there, and the
  positions without the patch outvote the one with it;
* not asserted: ISTVT-LRP with Eq. 4 as the paper writes it (its grid readout finds the
  frame in 55-100 % over seeds) and the paper's spatial map of every method (about
  chance): the model carries the patch through the temporal cls row, a route the
  spatial map does not read. Those are the findings the docs report, not properties to
  hold.
"""

import pytest
import torch

from istvt.interpret.groundtruth import accuracy, build_model, make_clips, measure, train_model

#: (map, part) that find the frame, the cell in it, and the top token
FIND_WHEN_AND_WHERE = [
    ("attention rollout", "grid"),
    ("raw attention", "grid"),
    ("ISTVT-LRP, no gradient", "grid"),
    ("ISTVT-LRP, no gradient", "temporal"),
]
#: (map, part) that find the cell inside the patch's frame
FIND_WHERE = [("attention rollout", "temporal"), ("raw attention", "temporal")]


@pytest.fixture(scope="module")
def groundtruth():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = train_model(make_clips(1024, seed=0), epochs=4)
        test = make_clips(128, seed=1)
        return accuracy(model, test), measure(model, test).set_index(["map", "part"])
    finally:
        torch.set_num_threads(threads)


def test_the_model_learned_the_cue_and_its_answer_is_the_frame_and_the_cell(groundtruth):
    acc, table = groundtruth
    assert acc >= 95, table
    occlusion = table.loc[("token occlusion", "the model")]
    assert occlusion.frame >= 95, table
    assert occlusion.patch >= 95, table
    # one token carries the patch: swapping it removes most of what swapping its frame does
    assert occlusion.largest_token_share >= 50, table


@pytest.mark.parametrize(
    "name,part", FIND_WHEN_AND_WHERE, ids=[" ".join(m) for m in FIND_WHEN_AND_WHERE]
)
def test_maps_find_the_fake_frame_and_cell(groundtruth, name, part):
    _, table = groundtruth
    row = table.loc[(name, part)]
    assert min(row.frame, row.patch, row.token) >= 90, table.round(1).to_string()


@pytest.mark.parametrize("name,part", FIND_WHERE, ids=[" ".join(m) for m in FIND_WHERE])
def test_attention_temporal_maps_find_the_cell_in_the_frame(groundtruth, name, part):
    _, table = groundtruth
    assert table.loc[(name, part), "patch"] >= 90, table.round(1).to_string()


def test_the_table_has_every_map_and_the_paper_variant(groundtruth):
    _, table = groundtruth
    names = set(table.index.get_level_values(0))
    assert {"ISTVT-LRP", "ISTVT-LRP, mean_then_clamp", "Grad-CAM", "token occlusion"} <= names
    # the paper's readout gives spatial and temporal maps; the grid readout one joint map
    assert {"joint", "spatial", "temporal", "grid"} == set(table.loc["ISTVT-LRP"].index)
    assert ((table[["frame", "patch", "token"]].fillna(0) >= 0) & (table.fillna(0) <= 100)).all(
        axis=None
    )


def test_patch_stem_tokens_see_their_own_cell_only():
    model = build_model(stem="patch").eval()
    clips = make_clips(2, seed=4)
    frames = clips.frames[:1].clone()
    with torch.no_grad():
        before = model.tokens(frames)
        frames[0, 2, :, 16:32, 32:48] += 1.0  # frame 2, cell (1, 2)
        changed = (model.tokens(frames) - before).abs().amax(-1)[0]  # (R, P)
    # rows: the temporal cls row, then frames; columns: the frame cls, then 4x4 cells
    assert changed[3, 1 + 1 * 4 + 2] > 0
    changed[3, 1 + 1 * 4 + 2] = 0
    assert changed.max() == 0
    with pytest.raises(ValueError, match="stem"):
        build_model(stem="vit")


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

"""Relevance maps: propagation rules, Eq. 4-5 on hand-made inputs, shapes, variants."""

import numpy as np
import pandas as pd
import pytest
import torch

from istvt.config import ModelConfig
from istvt.interpret import rules
from istvt.interpret.faithfulness import delete_top, mask_measures, rank_correlation
from istvt.interpret.relevance import (
    METHODS,
    explain,
    grid_rollout,
    lrp_matrix,
    propagate,
    read_maps,
    recorded_forward,
    rollout,
    upsample,
)
from istvt.model import ISTVT

TINY = dict(sequence_length=3, image_size=64, embed_dim=24, num_layers=2, num_heads=2, dim_head=8)


def tiny_model(**over) -> ISTVT:
    torch.manual_seed(0)
    return ISTVT(ModelConfig(**{**TINY, **over})).eval()


def clips(n=2, t=3, size=64, seed=1):
    return torch.randn(n, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ rules by hand
def test_linear_rule_keeps_only_positive_contributions():
    x = torch.tensor([[2.0, -1.0]])
    # contributions 2 and -3: only the positive one carries relevance
    r = rules.linear(x, torch.tensor([[1.0, 3.0]]), torch.tensor([[1.0]]))
    torch.testing.assert_close(r, torch.tensor([[1.0, 0.0]]))
    # contributions 2 and (-1)(-3) = 3: shared 2 : 3
    r = rules.linear(x, torch.tensor([[1.0, -3.0]]), torch.tensor([[1.0]]))
    torch.testing.assert_close(r, torch.tensor([[0.4, 0.6]]))


def test_add_rule_shares_by_contribution_and_conserves():
    a, b = torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 0.0]])
    ra, rb = rules.add([a, b], torch.tensor([[3.0, 1.0]]))
    torch.testing.assert_close(ra, torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(rb, torch.tensor([[2.0, 0.0]]))
    # a negative operand: shares by absolute contribution (1.5 : 0.5), total kept
    ra, rb = rules.add([torch.tensor([[3.0]]), torch.tensor([[-1.0]])], torch.tensor([[1.0]]))
    torch.testing.assert_close(ra, torch.tensor([[0.75]]))
    torch.testing.assert_close(rb, torch.tensor([[0.25]]))


def test_matmul_rule_halves_and_conserves():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 4, generator=g) + 0.1, torch.rand(4, 2, generator=g) + 0.1
    r = torch.rand(3, 2, generator=g)
    ra, rb = rules.matmul(a, b, r)
    assert ra.shape == a.shape and rb.shape == b.shape
    torch.testing.assert_close(ra.sum() + rb.sum(), r.sum())
    torch.testing.assert_close(ra.sum(), r.sum() / 2)


def test_z_rule_of_a_difference():
    # z = x1 - x0 = 3 - 1 = 2 gets relevance 1: x1 gets 3/2, x0 gets -1/2
    r = rules.z_rule(lambda x: x[1:] - x[:-1], torch.tensor([1.0, 3.0]), torch.tensor([1.0]))
    torch.testing.assert_close(r, torch.tensor([-0.5, 1.5]))


# --------------------------------------------------------- Eq. 4 and Eq. 5 by hand
def test_head_fusion_of_eq4():
    r_a = torch.zeros(1, 1, 2, 2, 2)
    grad = torch.zeros(1, 1, 2, 2, 2)
    r_a[0, 0, :, 0, 1] = torch.tensor([2.0, 1.0])
    grad[0, 0, :, 0, 1] = torch.tensor([0.3, -0.2])  # products 0.6 and -0.2
    eye = torch.eye(2)
    torch.testing.assert_close(
        lrp_matrix(r_a, grad, "mean_then_clamp")[0, 0], eye + torch.tensor([[0, 0.2], [0, 0]])
    )
    torch.testing.assert_close(
        lrp_matrix(r_a, grad, "clamp_then_mean")[0, 0], eye + torch.tensor([[0, 0.3], [0, 0]])
    )


def test_rollout_puts_the_last_block_first_and_reads_cls_rows():
    # T = 3 frames on a 2x2 grid: temporal slices (B, P=5, R=4, R), spatial (B, R, P, P)
    c1, c2 = torch.zeros(1, 5, 4, 4), torch.zeros(1, 5, 4, 4)
    p = 3  # grid position 2 = (row 1, column 0); position 0 is the spatial cls column
    c1[0, p, 1, 2] = 0.5  # block 1: frame row 1 draws on frame row 2
    c2[0, p, 0, 1] = 0.4  # block 2: the temporal cls row draws on frame row 1
    eye = torch.eye(4)
    u_t = rollout([eye + c1, eye + c2])
    s = torch.zeros(1, 4, 5, 5)
    s[0, 2, 0, 4] = 0.7  # time row 2 (frame index 1): its cls draws on grid position 3
    u_s = rollout([torch.eye(5) + s])
    t_map, s_map = read_maps(u_t, u_s, 2, 2)
    assert t_map.shape == s_map.shape == (1, 3, 2, 2)
    expected_t = torch.zeros(1, 3, 2, 2)
    expected_t[0, 0, 1, 0] = 0.4  # directly: cls <- frame 0 at block 2
    expected_t[0, 1, 1, 0] = 0.4 * 0.5  # through both blocks: cls <- frame 0 <- frame 1
    torch.testing.assert_close(t_map, expected_t)
    expected_s = torch.zeros(1, 3, 2, 2)
    expected_s[0, 1, 1, 1] = 0.7
    torch.testing.assert_close(s_map, expected_s)
    # the other order (first block leftmost) would lose the two-step path
    other = (eye + c1) @ (eye + c2)
    assert other[0, p, 0, 2] == 0


# ------------------------------------------------------------------ on the model
@pytest.mark.parametrize("attention", ["temporal_first", "spatial_first", "parallel"])
@pytest.mark.parametrize("self_subtract", [True, False])
def test_recorded_forward_is_the_model(attention, self_subtract):
    model = tiny_model(attention=attention, self_subtract=self_subtract)
    x = clips()
    with torch.no_grad():
        expected = model(x)
        logits, _ = recorded_forward(model, x)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target", ["fake", "real"])
def test_relevance_is_conserved_from_logit_to_tokens(target):
    model = tiny_model()
    with torch.no_grad():
        _, record = recorded_forward(model, clips())
        relevance = propagate(model, record, target)
    assert relevance.shape == record["tokens"].shape
    torch.testing.assert_close(relevance.flatten(1).sum(1), torch.ones(2), rtol=1e-4, atol=1e-4)
    for blk in record["blocks"]:
        for kind in ("temporal", "spatial"):
            assert blk[kind]["R_A"].shape == blk[kind]["A"].shape


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_token_maps(method):
    model = tiny_model()
    x = clips()
    e = explain(model, x, method, generator=torch.Generator().manual_seed(0))
    assert e.joint.shape == (2, 3, 4, 4) and (e.joint >= 0).all()
    assert torch.isfinite(e.joint).all()
    with torch.no_grad():
        torch.testing.assert_close(e.logits, model(x), rtol=1e-5, atol=1e-6)
    if method in ("lrp", "rollout", "raw_attention"):
        assert e.spatial.shape == e.temporal.shape == (2, 3, 4, 4)
    up = upsample(e.joint, 64)
    assert up.shape == (2, 3, 64, 64)
    # no gradient left behind on the model
    assert all(p.grad is None for p in model.parameters())


def test_lrp_maps_are_deterministic_and_depend_on_the_class():
    model = tiny_model()
    x = clips()
    a = explain(model, x, "lrp")
    b = explain(model, x, "lrp")
    torch.testing.assert_close(a.joint, b.joint)
    real = explain(model, x, "lrp", target="real")
    norm = [m.spatial / m.spatial.amax() for m in (a, real)]
    assert (norm[0] - norm[1]).abs().max() > 0.1


@pytest.mark.parametrize(
    "attention", ["joint", "spatial_only", "temporal_only", "factorised_encoder"]
)
def test_variants_without_both_attentions(attention):
    model = tiny_model(attention=attention, self_subtract=attention == "temporal_only")
    for method in ("lrp", "rollout", "raw_attention"):
        with pytest.raises(ValueError, match=f"{method}.*'{attention}'"):
            explain(model, clips(), method)
    assert explain(model, clips(), "gradcam").joint.shape == (2, 3, 4, 4)


def test_attention_methods_need_the_cls_readout():
    model = tiny_model(readout="mean")
    for method in ("lrp", "rollout", "raw_attention"):
        with pytest.raises(ValueError, match="model.readout"):
            explain(model, clips(), method)
    assert explain(model, clips(), "gradcam").joint.shape == (2, 3, 4, 4)


def test_bad_method_and_class_are_named():
    model = tiny_model()
    with pytest.raises(ValueError, match="unknown relevance method 'lime'"):
        explain(model, clips(), "lime")
    with pytest.raises(ValueError, match="target class"):
        explain(model, clips(), "lrp", target="both")


# ------------------------------------------------------------ faithfulness pieces
def test_delete_top_removes_the_most_relevant_pixels_of_the_clip():
    frames = torch.ones(1, 2, 3, 4, 4)
    maps = torch.arange(32, dtype=torch.float32).view(1, 2, 4, 4)
    out = delete_top(frames, maps, 25)  # 8 of 32 pixels: the 8 largest, all in frame 1
    assert out[0, 0].eq(1).all()
    assert out[0, 1, :, 2:].eq(0).all() and out[0, 1, :, :2].eq(1).all()
    assert delete_top(frames, maps, 0.1).eq(1).all()  # rounds to no pixel


def test_mask_measures_by_hand():
    masks = np.zeros((3, 4, 4), bool)
    masks[0, :2] = True  # top half
    masks[1, :, :1] = True  # first column
    maps = np.zeros((3, 4, 4))
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0  # peak inside, 75 % of the mass inside
    maps[1, 2, 2] = 1.0  # peak outside, nothing inside
    out = mask_measures(maps, masks)  # frame 2 has no mask: skipped
    assert out == [(True, 0.75, 0.5), (False, 0.0, 0.25)]
    assert mask_measures(np.zeros((1, 4, 4)), masks[:1]) == [(False, 0.5, 0.5)]


def test_rank_correlation_with_ties_and_constant_maps():
    a = np.array([0.0, 0.0, 1.0, 2.0])
    assert rank_correlation(a, a * 3 + 1) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    # ranks (1.5, 1.5, 3, 4) against (4, 3, 2, 1): Pearson of the ranks
    ra, rb = np.array([1.5, 1.5, 3, 4]), np.array([4.0, 3, 2, 1])
    expected = np.corrcoef(ra, rb)[0, 1]
    assert rank_correlation(a, np.array([3.0, 2.0, 1.0, 0.0])) == pytest.approx(expected)
    assert np.isnan(rank_correlation(np.zeros(4), a))


# ------------------------------------------------- a demo model trained for real
@pytest.fixture(scope="module")
def demo_faithfulness(tmp_path_factory):
    """The Celeb-DF demo model exactly as the default config trains it (data, model,
    preprocessing and training sections of config/config.yaml; 2 threads instead of
    1), measured on its test split against the true masks. About 4 minutes on 2 cores."""
    import yaml

    from istvt.data.dataset import split_dataset
    from istvt.data.demo import DemoOptions, generate_demo
    from istvt.data.manifest import build_manifest
    from istvt.data.preprocess import PreprocessOptions, preprocess_dataset
    from istvt.interpret.faithfulness import FaithfulnessConfig, measure
    from istvt.train import TrainConfig, train_experiment

    from .conftest import REPO

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    entry = config["datasets"]["celebdf_demo"]
    model_cfg = ModelConfig.from_dict(config["model"])
    root = tmp_path_factory.mktemp("interpret_demo")
    generate_demo(root, DemoOptions.from_dict(config["demo"]), ("celebdf",))
    manifest = build_manifest("celebdf", root / "celebdf", **entry["options"])
    options = PreprocessOptions.from_dict(
        {
            **config["preprocess"],
            **entry["preprocess"],
            "sequence_length": model_cfg.sequence_length,
            "image_size": model_cfg.image_size,
        }
    )
    preprocess_dataset(manifest, options, root / "faces")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train_experiment(
            manifest,
            root / "faces",
            model_cfg,
            TrainConfig.from_dict({"seed": config["seeds"][0], **config["train"]}),
            root / "model.pth",
            root / "state.pt",
            root / "log.csv",
        )
        from istvt.checkpoint import load_checkpoint

        model = load_checkpoint(root / "model.pth").eval()
        dataset, rows = split_dataset(manifest, root / "faces", "test")
        cfg = FaithfulnessConfig(
            methods=["lrp", "random"], fractions=[2, 5, 10, 20, 30], variants=[]
        )
        paths = dict(zip(rows.video_id, rows.path, strict=True))
        summary, deletion = measure(model, dataset, cfg, paths, root / "celebdf")
        # the same videos under a root that is not theirs (a run folder copied elsewhere
        # keeps the old absolute paths in its manifests): an error, not empty columns
        cheap = FaithfulnessConfig(methods=["random"], fractions=[5], variants=[], max_clips=6)
        with pytest.raises(ValueError, match="no true mask found under .*copied or moved"):
            measure(model, dataset, cheap, paths, tmp_path_factory.mktemp("elsewhere"))
        from istvt.inference import predict

        clips = pd.DataFrame({"video_id": dataset.video_ids, "label": dataset.labels})
        for path in ("fp32", "bf16", "int8"):  # every precision path on the same clips
            clips[path] = predict(model, dataset, 16, "cpu", path)
    finally:
        torch.set_num_threads(threads)
    return summary.set_index("map"), deletion, clips


def test_trained_lrp_maps_are_faithful_to_the_model(demo_faithfulness):
    """What must hold for any honestly trained model, on any CPU: deleting the pixels
    ISTVT-LRP ranks highest lowers a fake clip's score more than deleting as many random
    pixels, significantly (one-sided Wilcoxon signed-rank over the fake clips, p < 0.01).

    Where the maps fall against the true manipulation masks is not asserted: that
    depends on the cue a model learned (the Celeb-DF demo model also reads the frame-to-
    frame jitter of the face crop, outside the mask), which differs with the CPU's
    floating point and the seed; benchmarks/demo_seeds.py reports it per seed."""
    summary, _, _ = demo_faithfulness
    table = summary[["deletion_gain", "deletion_p", "pointing_gain", "mass_gain", "fake@0%"]]
    lrp, rnd = summary.loc["lrp"], summary.loc["random"]
    assert lrp.mask_frames >= 100, table  # every fake frame of the test clips has its mask
    # a uniform map scores the mask's share; random maps land there too
    assert abs(rnd.mask_mass - rnd.mask_area) < 3, table
    assert lrp.deletion_gain > 0 and lrp.deletion_p < 0.01, table
    for name in ("lrp", "lrp_spatial", "lrp_temporal"):
        assert np.isfinite(summary.loc[name, ["pointing_gain", "mass_gain"]]).all(), table


def test_paired_gain_by_hand():
    from istvt.interpret.faithfulness import paired_gain

    rng = np.random.default_rng(0)
    base = pd.DataFrame({"clip": np.repeat(np.arange(20), 3), "mass": rng.uniform(0, 1, 60)})
    better = base.assign(mass=base.mass + 0.1)  # every clip gains 10 points
    gain, p = paired_gain(better, base, "mass")
    assert gain == pytest.approx(10.0) and p < 1e-4
    gain, p = paired_gain(base.assign(mass=base.mass - 0.1), base, "mass")
    assert gain == pytest.approx(-10.0) and p > 0.99
    assert np.isnan(paired_gain(base, base, "mass")[1])  # no difference: no test
    assert np.isnan(paired_gain(better[better["clip"] < 3], base, "mass")[1])  # 3 clips: too few


def test_trained_lrp_maps_fail_no_randomisation_check(demo_faithfulness):
    summary, _, _ = demo_faithfulness
    for name in ("lrp", "lrp_spatial", "lrp_temporal"):
        assert abs(summary.loc[name, "randomised_spearman"]) < 0.3, summary.randomised_spearman
    assert np.isnan(summary.loc["random", "randomised_spearman"])


def test_deleting_lrp_relevant_pixels_lowers_accuracy(demo_faithfulness):
    _, deletion, _ = demo_faithfulness
    curve = deletion[deletion["map"] == "lrp"].sort_values("percent").set_index("percent")
    acc = curve.accuracy
    assert acc[0] >= 80, curve  # the trained model before any deletion (2 fakes per real)
    # Not asserted: a monotone curve. Grey pixels push clips towards "fake", which first
    # helps fakes scored below 0.5 (README, Interpretability). With a third of the pixels
    # gone, a model that uses the relevant pixels has lost much of its accuracy.
    assert acc[30] <= acc[0] - 10, curve


def test_every_precision_path_scores_the_trained_demo_model_like_fp32(demo_faithfulness):
    """bf16 autocast and int8 linear layers, on the trained Celeb-DF demo model's test
    clips: every clip's fake probability within 0.05 of fp32, and the video AUC within
    0.5 points (the tolerance the speed issue allows a fast path)."""
    from istvt.metrics import point_metrics, video_scores

    _, _, clips = demo_faithfulness
    auc = {}
    for path in ("fp32", "bf16", "int8"):
        videos = video_scores(clips.rename(columns={path: "score"}))
        auc[path] = 100 * point_metrics(videos.label.to_numpy(), videos.score.to_numpy())["auc"]
    for path in ("bf16", "int8"):
        worst = float((clips[path] - clips.fp32).abs().max())
        assert worst <= 0.05, (path, worst)
        assert abs(auc[path] - auc["fp32"]) <= 0.5, auc


# --------------------------------------------- the options measured beside the paper's
def test_grid_rollout_follows_every_path_to_the_output_token():
    """Two frames on a 1x2 grid, one temporal_first block: the output token (0, 0) draws
    on the temporal cls token at position 2 (spatial attention of row 0), which draws on
    frame 2 there (temporal attention): the grid readout credits frame 2, position 2;
    the paper's spatial map, read from the frame rows, cannot see that path."""
    r, p = 3, 3  # rows: cls, frame 1, frame 2; positions: cls, 1, 2
    m_t = torch.eye(r).repeat(1, p, 1, 1)  # (B, P, R, R)
    m_s = torch.eye(p).repeat(1, r, 1, 1)  # (B, R, P, P)
    m_t[0, 2, 0, 2] = 0.5  # position 2: the cls row draws on frame 2
    m_s[0, 0, 0, 2] = 0.4  # row 0: the cls token draws on position 2
    grid = grid_rollout([m_t], [m_s], "temporal_first", 1, 2)
    expected = torch.zeros(1, 2, 1, 2)
    expected[0, 1, 0, 1] = 0.4 * 0.5
    torch.testing.assert_close(grid, expected)
    # spatial_first composes the other way: the temporal step at position 0 first, which
    # draws on nothing here
    assert grid_rollout([m_t], [m_s], "spatial_first", 1, 2).abs().sum() == 0
    _, s_map = read_maps(rollout([m_t]), rollout([m_s]), 1, 2)
    assert s_map.abs().sum() == 0  # the frame rows' spatial rows hold no path


def test_the_grid_readout_and_the_gradient_switch_on_a_model():
    model, x = tiny_model(), clips()
    paper = explain(model, x, "lrp")
    grid = explain(model, x, "lrp", readout="grid")
    assert grid.spatial is None and grid.temporal is None
    assert grid.joint.shape == paper.joint.shape and (grid.joint >= 0).all()
    assert not torch.allclose(grid.joint, paper.joint)
    no_grad = explain(model, x, "lrp", gradient=False)
    assert not torch.allclose(no_grad.joint, paper.joint)
    # the baselines ignore the gradient switch
    torch.testing.assert_close(
        explain(model, x, "rollout", gradient=False).joint, explain(model, x, "rollout").joint
    )
    with pytest.raises(ValueError, match="readout"):
        explain(model, x, "lrp", readout="diagonal")


def test_variants_are_named_checked_and_measured():
    from istvt.interpret.faithfulness import FaithfulnessConfig, label, variant_name

    v = {"readout": "grid", "gradient": False}
    assert variant_name(v) == "lrp[gradient=False,readout=grid]"
    assert label(variant_name(v)) == "ISTVT-LRP, without Eq. 4's gradient, readout grid"
    for bad, words in [({"alpha": 1}, "alpha"), ({}, "nothing"), ({"readout": "x"}, "readout")]:
        with pytest.raises(ValueError, match=words):
            FaithfulnessConfig(variants=[bad])
    # a config without the key (config/paper.yaml, a user's) measures what the default does
    import yaml

    from .conftest import REPO

    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["interpret"]
    assert shipped["variants"] == FaithfulnessConfig().variants
    assert {"readout": "grid", "gradient": False} in FaithfulnessConfig().variants


def test_the_table_says_how_istvt_lrp_stands_against_the_best_baseline():
    from istvt.interpret.experiment import comparison, table_markdown

    summary = pd.DataFrame(
        {
            "map": ["lrp", "lrp[readout=grid]", "rollout", "raw_attention", "random"],
            "pointing_game": [40.0, 60.0, 55.0, 50.0, 20.0],
            "deletion_gain": [2.0, 9.0, 3.0, 8.0, np.nan],
            "mask_area": [40.0] * 5,
            "mask_frames": [10] * 5,
            "clips": [4] * 5,
        }
    )
    text = comparison(summary)
    assert "pointing game %: ISTVT-LRP 40.0, the best baseline (attention rollout) 55.0" in text
    assert "the best variant (ISTVT-LRP, readout grid) 60.0" in text
    assert "deletion: ISTVT-LRP 2.0, the best baseline (raw attention (last block)) 8.0" in text
    assert text in table_markdown(summary, [])
    assert comparison(summary[summary["map"].isin(["lrp", "random"])]) == ""  # no baseline

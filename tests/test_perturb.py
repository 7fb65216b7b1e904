"""Robustness perturbations: each level does what it says, deterministically."""

import cv2
import numpy as np
import pytest

from istvt import perturb
from istvt.perturb import LEVELS, perturb_clip

from . import videos


def face_clip(t=3, size=300, seed=0):
    """A textured clip without pure black or grey pixels (so masks can be counted)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.integers(30, 220, (size // 10, size // 10, 3), dtype=np.uint8), (size, size)
    )
    noise = rng.integers(-20, 21, (t, size, size, 3))
    clip = np.clip(base[None].astype(int) + noise, 1, 254).astype(np.uint8)
    clip[clip == 128] = 129
    return clip


IJG_LUMA_DC = 16  # first entry of the standard (Annex K) luminance table


def _luma_table_first_entry(data: bytes) -> int:
    """The first quantiser of the first DQT segment of a JPEG stream."""
    i = data.index(b"\xff\xdb")
    return data[i + 5]  # FF DB, length (2), Pq/Tq (1), then 64 entries in zig-zag order


@pytest.mark.parametrize("quality", LEVELS["jpeg"])
def test_jpeg_reencodes_at_the_quality(quality):
    clip = face_clip(t=2)
    data = perturb.encode_jpeg(clip[0], quality)
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    assert _luma_table_first_entry(data) == min(255, max(1, int((IJG_LUMA_DC * scale + 50) // 100)))
    out = perturb_clip(clip, "jpeg", quality)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(out[0], decoded)


def _mse(a, b):
    return float(((a.astype(float) - b.astype(float)) ** 2).mean())


@pytest.mark.parametrize("name", ["jpeg", "downscale", "blur", "pixelation", "noise"])
def test_stronger_levels_change_the_clip_more(name):
    clip = face_clip()
    errors = [
        _mse(perturb_clip(clip, name, level, seed=1, key="v:0"), clip) for level in LEVELS[name]
    ]
    assert errors[0] > 0
    assert all(b >= a * 0.98 for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] > 1.5 * errors[0], errors


@pytest.mark.parametrize("name, value, side", [("dropout", 0, 16), ("block", 128, 8)])
@pytest.mark.parametrize("size", [300, 64])
def test_squares_are_the_same_on_every_frame(name, value, side, size):
    clip = face_clip(size=size)
    side = max(1, round(side * size / 300))  # sizes are for 300-pixel crops
    for count in LEVELS[name]:
        out = perturb_clip(clip, name, count, seed=3, key="vid:12")
        hit = (out == value).all(-1)  # (T, S, S)
        assert (hit == hit[0]).all()  # the same mask on every frame
        assert side * side <= hit[0].sum() <= count * side * side
        np.testing.assert_array_equal(out[:, ~hit[0]], clip[:, ~hit[0]])  # nothing else changed
    assert (
        perturb_clip(clip, name, 8, seed=3, key="vid:12").tobytes()
        != perturb_clip(clip, name, 8, seed=4, key="vid:12").tobytes()
    )


def test_saturation_contrast_pixelation_by_definition():
    clip = face_clip(size=60)
    grey = perturb_clip(clip, "saturation", 0.0).astype(int)
    assert (
        np.abs(grey[..., 0] - grey[..., 1]).max() <= 1
        and np.abs(grey[..., 1] - grey[..., 2]).max() <= 1
    )
    for f in LEVELS["contrast"]:
        out = perturb_clip(clip, "contrast", f).astype(float)
        for t in range(len(clip)):
            assert out[t].std() == pytest.approx(f * clip[t].astype(float).std(), rel=0.02)
            assert out[t].mean() == pytest.approx(clip[t].mean(), abs=0.6)
    for f in LEVELS["pixelation"]:
        out = perturb_clip(clip, "pixelation", f)
        small = round(60 / f)
        # constant on the cells of a small x small grid
        cells = cv2.resize(out[0], (small, small), interpolation=cv2.INTER_NEAREST)
        back = cv2.resize(cells, (60, 60), interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(out[0], back)


def test_noise_has_the_variance_in_ycbcr():
    clip = np.full((2, 200, 200, 3), 128, np.uint8)
    for var in LEVELS["noise"][:4]:  # the largest clips at 0 / 1 too often to measure
        out = perturb_clip(clip, "noise", var, seed=0, key="a")
        ycc_in = cv2.cvtColor(clip[0], cv2.COLOR_RGB2YCrCb).astype(float) / 255
        ycc_out = cv2.cvtColor(out[0], cv2.COLOR_RGB2YCrCb).astype(float) / 255
        # RGB rounding round-trips add ~1/255 of error: compare on the luma channel
        assert np.var(ycc_out[..., 0] - ycc_in[..., 0]) == pytest.approx(var, rel=0.25, abs=2e-5)


def test_blur_at_the_reference_size_is_the_papers_kernel():
    clip = face_clip(t=1)
    for k in LEVELS["blur"]:
        expected = cv2.GaussianBlur(clip[0], (k, k), k / 6)
        np.testing.assert_array_equal(perturb_clip(clip, "blur", k)[0], expected)


def test_determinism_per_seed_and_clip():
    clip = face_clip(size=64)
    for name in ("dropout", "block", "noise"):
        a = perturb_clip(clip, name, LEVELS[name][2], seed=7, key="x:0")
        b = perturb_clip(clip, name, LEVELS[name][2], seed=7, key="x:0")
        c = perturb_clip(clip, name, LEVELS[name][2], seed=7, key="x:6")
        np.testing.assert_array_equal(a, b)
        assert a.tobytes() != c.tobytes()


def test_bad_names_and_levels_are_named():
    clip = face_clip(size=64)
    with pytest.raises(ValueError, match="unknown perturbation 'fog'"):
        perturb_clip(clip, "fog", 1)
    with pytest.raises(ValueError, match="jpeg: level 0"):
        perturb_clip(clip, "jpeg", 0)
    with pytest.raises(ValueError, match="compress_video"):
        perturb_clip(clip, "compression", 30)


def test_compression_reencodes_every_frame(tmp_path):
    from istvt.data.video import probe

    frames = face_clip(t=12, size=120)
    src = videos.save(tmp_path / "src.mp4", frames)
    sizes = []
    for crf in (LEVELS["compression"][0], LEVELS["compression"][-1]):
        out = perturb.compress_video(src, tmp_path / f"crf{crf}.mp4", crf)
        info = probe(out)
        assert info.frames == 12 and (info.width, info.height) == (120, 120)
        sizes.append(out.stat().st_size)
    assert sizes[1] < sizes[0]  # CRF 40 keeps less than CRF 30
    assert not list(tmp_path.glob(".*tmp"))


def test_evaluation_under_a_perturbation_is_seeded_and_recorded(tmp_path):
    import json

    import pandas as pd

    from istvt.checkpoint import save_checkpoint
    from istvt.data.shards import write_shard
    from istvt.evaluate import evaluate
    from istvt.model import ISTVT

    from .conftest import TINY

    t, s = TINY.sequence_length, TINY.image_size
    clips = np.stack([face_clip(t=t, size=s, seed=i) for i in range(4)])
    faces = tmp_path / "faces"
    write_shard(
        faces / "shard-0.npz",
        {
            "clips": clips,
            "landmarks": np.zeros((4, t, 68, 2), np.float32),
            "video_ids": np.array(["r", "r", "f", "f"]),
            "labels": np.array([0, 0, 1, 1], np.int8),
            "starts": np.array([0, 8, 0, 8], np.int32),
        },
    )
    manifest = pd.DataFrame(
        {
            "video_id": ["r", "f"],
            "path": ["r.mp4", "f.mp4"],
            "label": [0, 1],
            "split": ["test", "test"],
            "method": ["original", "X"],
        }
    )
    save_checkpoint(tmp_path / "m.pth", ISTVT(TINY))

    def run(name, perturbation, seed=0):
        m = evaluate(
            tmp_path / "m.pth",
            manifest,
            faces,
            tmp_path / f"{name}.csv",
            tmp_path / f"{name}.json",
            bootstrap=10,
            seed=seed,
            perturbation=perturbation,
        )
        return pd.read_csv(tmp_path / f"{name}.csv").clip_scores.tolist(), m

    clean, _ = run("clean", None)
    a, m = run("a", ("dropout", 40))
    b, _ = run("b", ("dropout", 40))
    c, _ = run("c", ("dropout", 40), seed=1)
    assert a == b and a != clean and a != c
    assert m["perturbation"] == {"name": "dropout", "level": 40}
    assert json.loads((tmp_path / "a.json").read_text())["perturbation"]["level"] == 40


def test_training_dropout_augmentation_follows_the_seed():
    from istvt.train import TrainConfig, dropout_augmentation

    clip = face_clip(size=64)
    augment = dropout_augmentation(TrainConfig(dropout_regions=40, dropout_probability=1.0))
    rng = np.random.default_rng(0)
    a = [augment(clip, rng) for _ in range(3)]
    rng = np.random.default_rng(0)
    b = [augment(clip, rng) for _ in range(3)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
        black = (x == 0).all(-1)
        assert black[0].any() and (black == black[0]).all()  # the same squares on all frames
    assert a[0].tobytes() != a[1].tobytes()  # a new draw every time the clip is loaded
    never = dropout_augmentation(TrainConfig(dropout_regions=40, dropout_probability=0.0))
    np.testing.assert_array_equal(never(clip, rng), clip)
    with pytest.raises(ValueError, match="dropout_regions"):
        TrainConfig(dropout_regions=-1)


@pytest.mark.parametrize("factor", LEVELS["saturation"])
def test_saturation_scales_the_hsv_saturation(factor):
    clip = face_clip(t=1, size=60)
    out = perturb_clip(clip, "saturation", factor)
    s_in = cv2.cvtColor(clip[0], cv2.COLOR_RGB2HSV)[..., 1].astype(float)
    s_out = cv2.cvtColor(out[0], cv2.COLOR_RGB2HSV)[..., 1].astype(float)
    assert s_out.mean() == pytest.approx(factor * s_in.mean(), abs=2.0)

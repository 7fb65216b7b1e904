"""Video reading, face alignment, shards and the per-video status table."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from istvt.data.faces import FaceOptions, crop_mask, crop_square
from istvt.data.manifest import build_manifest
from istvt.data.preprocess import PreprocessOptions, preprocess_shard, process_video
from istvt.data.shards import ShardReader, write_shard
from istvt.data.video import DecodeReport, VideoError, clip_starts, iter_clips, probe

from . import videos
from .conftest import shared_path

OPTS = PreprocessOptions(sequence_length=4, clips_per_video=2, faces=FaceOptions(image_size=64))


@pytest.mark.parametrize(
    "frames, t, n, max_frames, expected",
    [
        (100, 6, 4, None, [0, 31, 63, 94]),
        (300, 6, 3, 270, [0, 132, 264]),  # FF++: only the first 270 frames
        (6, 6, 4, None, [0]),
        (5, 6, 4, None, []),
        (8, 6, 4, None, [0, 1, 2]),  # overlapping clips are still distinct
        (50, 6, 1, None, [22]),
    ],
)
def test_clip_starts(frames, t, n, max_frames, expected):
    assert clip_starts(frames, t, n, max_frames) == expected


def test_iter_clips_reads_exactly_the_clip_frames(tmp_path):
    frames = np.zeros((20, 64, 64, 3), np.uint8)
    for i in range(20):
        frames[i, :, :, :] = i * 12  # frame index encoded as brightness
    path = videos.save(tmp_path / "ramp.mp4", frames)
    info = probe(path)
    assert (info.frames, info.width, info.height) == (20, 64, 64)
    clips = list(iter_clips(path, [0, 2, 14], 4))
    assert [s for s, _ in clips] == [0, 2, 14]
    for start, clip in clips:
        assert len(clip) == 4 and clip[0].shape == (64, 64, 3)
        levels = [int(round(f.mean() / 12)) for f in clip]
        assert levels == list(range(start, start + 4))


def manifest_of(paths: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "video_id": k,
                "path": str(p),
                "label": 1,
                "split": "test",
                "dataset": "t",
                "method": "",
                "compression": "",
                "identities": k,
            }
            for k, p in paths.items()
        ]
    )


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """One video per failure mode of the brief, plus good ones between them."""
    d = tmp_path_factory.mktemp("bad")
    face = videos.face_frames(12, 160)
    good = videos.save(d / "good.mp4", face)
    paths = {"good": good}
    (d / "empty.mp4").write_bytes(b"")
    paths["empty"] = d / "empty.mp4"
    data = good.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    paths["truncated"] = d / "truncated.mp4"
    (d / "text.mp4").write_text("this is not a video\n" * 50)
    paths["not_video"] = d / "text.mp4"
    paths["missing"] = d / "missing.mp4"
    paths["too_short"] = videos.save(d / "short.mp4", face[:3])
    paths["no_face"] = videos.save(
        d / "noise.mp4", np.random.default_rng(0).integers(0, 255, (12, 160, 160, 3), np.uint8)
    )
    portrait = np.zeros((12, 288, 160, 3), np.uint8)
    portrait[:, 64:224] = face
    paths["portrait"] = videos.save(d / "portrait.mp4", portrait)
    two = np.concatenate([videos.face_frames(12, 160, person=1), face], axis=2)
    paths["two_faces"] = videos.save(d / "two.mp4", two)
    big = np.zeros((12, 400, 400, 3), np.uint8)
    big[:, 120:280, 120:280] = face
    paths["huge"] = videos.save(d / "huge.mp4", big)  # > max_side 360 below
    paths["variable_fps"] = videos.save_variable_fps(d / "vfr.mp4", face)
    paths["good_again"] = good
    paths["other_person"] = videos.save(d / "other.mp4", videos.face_frames(12, 160, person=1))
    manifest = manifest_of(paths)
    options = PreprocessOptions(
        sequence_length=4, clips_per_video=2, max_side=360, faces=FaceOptions(image_size=64)
    )
    table = preprocess_shard(manifest, options, d / "shard.npz", d / "status.csv")
    return table.set_index("video_id"), d


EXPECTED_STATUS = {
    "good": "ok",
    "empty": "empty_file",
    "truncated": "unreadable",
    "not_video": "unreadable",
    "missing": "missing",
    "too_short": "too_short",
    "no_face": "no_face",
    "portrait": "ok",
    "two_faces": "ok",
    "huge": "too_large",
    "variable_fps": "ok",
    "good_again": "ok",
    "other_person": "ok",
}


@pytest.mark.parametrize("video_id, status", EXPECTED_STATUS.items())
def test_every_bad_input_is_recorded(bad_inputs, video_id, status):
    table, _ = bad_inputs
    row = table.loc[video_id]
    assert row.status == status, row.to_dict()
    if status == "ok":
        assert row.clips_written == row.clips_asked == 2
    else:
        assert row.clips_written == 0


def test_counts_add_up_and_the_run_went_on(bad_inputs):
    table, d = bad_inputs
    assert len(table) == len(EXPECTED_STATUS)  # processed + failed = input count
    assert set(pd.read_csv(d / "status.csv").video_id) == set(EXPECTED_STATUS)
    shard = ShardReader(d / "shard.npz")
    ok = table[table.status == "ok"]
    assert len(shard) == ok.clips_written.sum()
    assert sorted(set(shard.video_ids)) == sorted(ok.index)


def test_several_faces_are_counted_and_one_is_followed(bad_inputs):
    table, d = bad_inputs
    assert table.loc["two_faces"].max_faces == 2
    shard = ShardReader(d / "shard.npz")

    def thumbs(video_id):
        return [
            cv2.resize(cv2.cvtColor(shard.clip(i)[0], cv2.COLOR_RGB2GRAY), (16, 16)).astype(float)
            for i in np.flatnonzero(shard.video_ids == video_id)
        ]

    # "two_faces" = "other_person" on the left, "good" (larger at first sight) on the
    # right: every clip must show the person of "good", never switch to the other
    for two, same, other in zip(
        thumbs("two_faces"), thumbs("good"), thumbs("other_person"), strict=True
    ):
        assert np.abs(two - same).mean() < 0.6 * np.abs(two - other).mean()


def test_portrait_and_vfr_metadata(bad_inputs):
    table, _ = bad_inputs
    assert (table.loc["portrait"].width, table.loc["portrait"].height) == (160, 288)
    assert table.loc["variable_fps"].frames == 12


def test_probe_errors_carry_a_reason(tmp_path):
    with pytest.raises(VideoError) as err:
        probe(tmp_path / "nope.mp4")
    assert err.value.reason == "missing" and "nope.mp4" in str(err.value)


def test_shard_round_trip_is_memory_mapped_and_atomic(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "clips": rng.integers(0, 255, (3, 4, 8, 8, 3), np.uint8),
        "landmarks": rng.normal(size=(3, 4, 68, 2)).astype(np.float32),
        "video_ids": np.array(["a", "a", "bb"]),
        "labels": np.array([0, 0, 1], np.int8),
        "starts": np.array([0, 5, 0], np.int32),
    }
    path = write_shard(tmp_path / "s.npz", arrays)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]
    shard = ShardReader(path)
    assert isinstance(shard.clips, np.memmap)
    assert len(shard) == 3 and list(shard.video_ids) == ["a", "a", "bb"]
    np.testing.assert_array_equal(shard.clip(2), arrays["clips"][2])
    np.testing.assert_array_equal(shard.landmarks[1], arrays["landmarks"][1])
    with pytest.raises(ValueError, match="disagree on clip count"):
        write_shard(tmp_path / "t.npz", {**arrays, "labels": np.zeros(2, np.int8)})
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    with pytest.raises(ValueError, match="compressed"):
        ShardReader(tmp_path / "c.npz")


def test_real_sample_videos_yield_a_face_in_every_clip(tmp_path):
    samples = shared_path("data", "samples")
    ffpp = build_manifest(
        "ffpp",
        samples / "FaceForensics++",
        splits_dir=shared_path("data", "official", "ffpp-splits"),
        methods=["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"],
    )
    dfdc = build_manifest("dfdc", samples / "DFDC", val_fraction=0.0)
    manifest = pd.concat([ffpp, dfdc], ignore_index=True)
    assert len(manifest) == 10
    options = PreprocessOptions(
        sequence_length=6, clips_per_video=3, max_frames=270, faces=FaceOptions(image_size=128)
    )
    table = preprocess_shard(manifest, options, tmp_path / "s.npz", tmp_path / "s.csv")
    assert (table.status == "ok").all(), table[["video_id", "status", "detail"]]
    assert (table.clips_written == 3).all()
    portrait = table.set_index("video_id").loc["dfdc_train_part_0/brtujopkby"]
    assert (portrait.width, portrait.height) == (1080, 1920)
    # she turns to full profile for frames 133-148 (no frontal face): the clip planned
    # there is replaced by a later window, and the misses are recorded
    assert portrait.frames_without_face > 0
    others = table[table.video_id != "dfdc_train_part_0/brtujopkby"]
    assert (others.frames_without_face == 0).all()
    shard = ShardReader(tmp_path / "s.npz")
    assert shard.clips.shape == (30, 6, 128, 128, 3)
    # the nose tip is the crop centre (landmark 30), within a pixel
    np.testing.assert_allclose(shard.landmarks[:, :, 30], 64.0, atol=1.0)
    # the stored crop geometry reproduces the crop from the source frame
    assert shard.boxes.shape == (30, 6, 3)
    k = 0
    video = manifest.set_index("video_id").loc[shard.video_ids[k], "path"]
    start = int(shard.starts[k])
    _, frames = next(iter_clips(video, [start], 6))
    again = crop_square(frames[2], shard.boxes[k, 2, :2], float(shard.boxes[k, 2, 2]), 128)
    assert np.abs(again.astype(int) - shard.clips[k, 2].astype(int)).mean() < 1.0


def test_crop_mask_follows_the_crop_box():
    mask = np.zeros((100, 200), bool)
    mask[40:60, 120:140] = True  # a 20-pixel square centred on (130, 50)
    cut = crop_mask(mask, np.array([130.0, 50.0, 40.0]), 80)  # 2x zoom, centred on it
    assert cut.shape == (80, 80) and cut.dtype == bool
    assert cut[20:60, 20:60].all() and cut.sum() == 40 * 40
    # a box reaching past the frame edge is zero-padded, not shifted
    edge = crop_mask(mask, np.array([190.0, 50.0, 40.0]), 40)
    assert not edge.any()


def test_dataset_in_shards_resumes_and_counts_add_up(bad_inputs, tmp_path, caplog):
    from istvt.data.preprocess import preprocess_dataset, shard_count

    _, d = bad_inputs
    manifest = manifest_of({f"v{i}": d / "good.mp4" for i in range(5)} | {"x": d / "empty.mp4"})
    assert shard_count(manifest, 4) == 2
    table = preprocess_dataset(manifest, OPTS, tmp_path, shard_size=4)
    assert len(table) == 6 and (tmp_path / "status.csv").is_file()
    assert sorted(p.name for p in tmp_path.glob("shard-*.npz")) == ["shard-0.npz", "shard-1.npz"]
    assert len(ShardReader(tmp_path / "shard-0.npz")) == 8  # 4 videos x 2 clips
    # an interrupted run: shard 1 lost, shard 0 kept and not recomputed
    (tmp_path / "shard-1.npz").unlink()
    before = (tmp_path / "shard-0.npz").stat().st_mtime_ns
    caplog.set_level("INFO")
    again = preprocess_dataset(manifest, OPTS, tmp_path, shard_size=4)
    assert (tmp_path / "shard-0.npz").stat().st_mtime_ns == before
    assert "already done" in caplog.text
    assert list(again.status) == list(table.status)


def test_cli_preprocess(bad_inputs, tmp_path, capsys):
    from istvt.cli import main
    from istvt.data.manifest import write_manifest

    _, d = bad_inputs
    manifest = manifest_of({"a": d / "good.mp4", "b": d / "noise.mp4"})
    write_manifest(manifest.assign(label=[0, 1]), tmp_path / "m.csv")
    code = main(
        [
            "preprocess",
            str(tmp_path / "m.csv"),
            str(tmp_path / "out"),
            "--option",
            "sequence_length=4",
            "--option",
            "image_size=64",
        ]
    )
    assert code == 0
    assert "2 videos: no_face 1, ok 1" in capsys.readouterr().out


# ---------------------------------------------------------------- damaged files


def _packets(path):
    """(byte offset, size, frame number in presentation order) of every video packet,
    in file order."""
    import av

    with av.open(str(path)) as container:
        packets = [(p.pos, p.size, p.pts) for p in container.demux(video=0) if p.size]
    order = sorted(pts for _, _, pts in packets)
    return [(pos, size, order.index(pts)) for pos, size, pts in packets]


def damage_packet(src, dst, k):
    """A copy of ``src`` whose k-th video packet (0-based) is zeroed."""
    data = bytearray(Path(src).read_bytes())
    pos, size, _ = _packets(src)[k]
    data[pos : pos + size] = bytes(size)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def damage_encoder_tag(src, dst):
    """A copy of ``src`` with a non-UTF-8 byte in its 'Lavf...' encoder tag."""
    data = bytearray(Path(src).read_bytes())
    at = data.find(b"Lavf")
    assert at >= 0, "the test video has no encoder tag to damage"
    data[at + 4] = 0xD7
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    d = tmp_path_factory.mktemp("damaged")
    good = videos.save(d / "good.mp4", videos.face_frames(40, 160))
    return d, good


DAMAGE_OPTIONS = PreprocessOptions(
    sequence_length=4, clips_per_video=2, max_side=360, faces=FaceOptions(image_size=64)
)


def test_non_utf8_metadata_is_read_leniently(damaged):
    import av

    d, good = damaged
    bad = damage_encoder_tag(good, d / "tag.mp4")
    with pytest.raises(UnicodeDecodeError):
        av.open(str(bad)).close()  # what a strict reader meets
    status, clips = process_video(str(bad), DAMAGE_OPTIONS)
    assert status["status"] == "ok" and len(clips) == 2, status
    assert status["frames"] == 40


def test_a_corrupt_packet_is_skipped_and_counted(damaged):
    d, good = damaged
    bad = damage_packet(good, d / "packet5.mp4", 4)
    report = DecodeReport()
    seen = [s for s, _ in iter_clips(bad, [0, 30], 4, report=report)]
    assert seen == [30]  # the clip over the damaged frame is not yielded; decoding went on
    assert report.frames_lost == 1
    assert report.first_error_frame == _packets(good)[4][2]  # its place in presentation order
    status, clips = process_video(str(bad), DAMAGE_OPTIONS)
    assert status["status"] == "ok" and len(clips) == 2, status  # a later window replaced it
    assert status["frames_lost"] == 1
    assert f"stream corrupt at frame {_packets(good)[4][2]} " in status["detail"]


def test_corruption_before_the_first_clip_says_so(damaged):
    d, _ = damaged
    short = videos.save(d / "short.mp4", videos.face_frames(6, 160))
    bad = damage_packet(short, d / "short_bad.mp4", 2)
    status, clips = process_video(str(bad), DAMAGE_OPTIONS)
    assert status["status"] == "corrupt" and not clips, status
    assert f"stream corrupt at frame {_packets(short)[2][2]} " in status["detail"]


def test_damaged_real_videos_decode_as_far_as_they_can(tmp_path):
    """Genuine FF++ / DFDC files damaged here: a flipped encoder-tag byte, and a zeroed
    5th packet. Both decode; the lost frame is counted."""
    samples = shared_path("data", "samples")
    for src in (
        samples / "FaceForensics++/original_sequences/youtube/c23/videos/004.mp4",
        samples / "DFDC" / "dfdc_train_part_3" / "knqhpwoigk.mp4",
    ):
        info = probe(src)
        bad = damage_encoder_tag(src, tmp_path / f"tag_{src.name}")
        assert probe(bad).frames == info.frames
        bad = damage_packet(src, tmp_path / f"pkt_{src.name}", 4)
        report = DecodeReport()
        got = list(iter_clips(bad, [0, 60], 6, report=report))
        assert [s for s, _ in got] == [60], src.name
        assert report.frames_lost == 1
        assert report.first_error_frame == _packets(src)[4][2]


# ---------------------------------------------------------------- all clips, image stores


def test_all_clips_are_every_non_overlapping_window():
    assert clip_starts(270, 6, "all") == list(range(0, 265, 6))  # the paper's 45 clips
    assert len(clip_starts(751, 6, "all", max_frames=270)) == 45
    assert clip_starts(300, 6, "all")[-1] == 294  # elsewhere: all face frames
    assert clip_starts(17, 6, "all") == [0, 6]
    assert clip_starts(5, 6, "all") == []
    assert PreprocessOptions(clips_per_video="all").clips_per_video == "all"
    for bad in ("every", 0, 2.5):
        with pytest.raises(ValueError, match="clips_per_video"):
            PreprocessOptions(clips_per_video=bad)
    with pytest.raises(ValueError, match="store must be one of raw, webp, png"):
        PreprocessOptions(store="jpeg")


def test_all_clips_of_a_video(tmp_path):
    path = videos.save(tmp_path / "v.mp4", videos.face_frames(26, 160))
    options = PreprocessOptions(
        sequence_length=4, clips_per_video="all", faces=FaceOptions(image_size=64)
    )
    status, clips = process_video(str(path), options)
    assert status["status"] == "ok" and status["clips_asked"] == 6
    assert [s for s, _ in clips] == [0, 4, 8, 12, 16, 20]


@pytest.mark.parametrize("store", ["webp", "png"])
def test_image_stores_are_lossless_and_smaller(tmp_path, store):
    from istvt.data.dataset import ClipDataset

    paths = {
        f"v{k}": videos.save(tmp_path / f"v{k}.mp4", videos.face_frames(16, 192, person=k))
        for k in range(2)
    }
    manifest = manifest_of(paths)
    base = dict(sequence_length=4, clips_per_video="all", faces=FaceOptions(image_size=96))
    raw = tmp_path / "raw.npz"
    packed = tmp_path / f"{store}.npz"
    preprocess_shard(manifest, PreprocessOptions(**base), raw, tmp_path / "raw.csv")
    table = preprocess_shard(
        manifest, PreprocessOptions(**base, store=store), packed, tmp_path / "p.csv"
    )
    assert (table.clips_written == 4).all()
    a, b = ShardReader(raw), ShardReader(packed)
    assert b.store == store and b.clips.shape == a.clips.shape == (8, 4, 96, 96, 3)
    for k in range(len(a)):
        np.testing.assert_array_equal(b.clip(k), a.clip(k))  # lossless
    np.testing.assert_array_equal(b.clips[3, 1], a.clips[3, 1])
    np.testing.assert_array_equal(b.landmarks, a.landmarks)
    assert packed.stat().st_size < raw.stat().st_size / 1.5, (packed.stat(), raw.stat())
    x, y, k = ClipDataset([packed], hflip=True, seed=1)[5]
    x0, y0, k0 = ClipDataset([raw], hflip=True, seed=1)[5]
    assert torch.equal(x, x0) and y == y0 and k == k0


def test_uint8_loader_output_normalises_to_the_same_numbers(tmp_path):
    from istvt.data.dataset import ClipDataset, normalize_clips

    rng = np.random.default_rng(0)
    arrays = {
        "clips": rng.integers(0, 256, (3, 4, 16, 16, 3), np.uint8),
        "landmarks": np.zeros((3, 4, 68, 2), np.float32),
        "video_ids": np.array(["a", "b", "c"]),
        "labels": np.array([0, 1, 1], np.int8),
        "starts": np.zeros(3, np.int32),
    }
    path = write_shard(tmp_path / "s.npz", arrays)
    floats = ClipDataset([path], hflip=True, seed=2)
    raw = ClipDataset([path], hflip=True, seed=2, normalize=False)
    for k in range(3):
        x, y, _ = floats[k]
        u, v, _ = raw[k]
        assert u.dtype == torch.uint8 and u.shape == (4, 3, 16, 16)
        assert torch.equal(normalize_clips(u), x) and y == v  # bit for bit

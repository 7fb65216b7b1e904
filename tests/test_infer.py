"""`istvt infer` on generated videos, including a broken file and a face-less one."""

import numpy as np
import pandas as pd
import pytest

from istvt.checkpoint import save_checkpoint
from istvt.cli import main
from istvt.model import ISTVT

from . import videos
from .conftest import tiny_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("infer")
    save_checkpoint(d / "model.pth", ISTVT(tiny_config()))
    folder = d / "videos"
    videos.save(folder / "a.mp4", videos.face_frames(16, 192, person=0))
    videos.save(folder / "sub" / "b.mp4", videos.face_frames(16, 192, person=1))
    (folder / "broken.mp4").write_bytes(b"\x00\x01 not a video")
    videos.save(
        folder / "noise.mp4", np.random.default_rng(0).integers(0, 255, (16, 160, 160, 3), np.uint8)
    )
    (folder / "notes.txt").write_text("not a video, ignored")
    return d


def test_single_video(setup, capsys):
    code = main(
        [
            "infer",
            "--model",
            str(setup / "model.pth"),
            "--video",
            str(setup / "videos" / "a.mp4"),
            "--clips",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "fake probability" in out
    clip_scores = [float(v) for v in out.split("clip scores:")[1].split()]
    assert len(clip_scores) == 3 and all(0 <= v <= 1 for v in clip_scores)
    mean = float(out.split("fake probability ")[1].split()[0])
    assert mean == pytest.approx(np.mean(clip_scores), abs=1e-4)


def test_precision_paths_of_infer(setup, capsys):
    """--precision int8 and bf16 score the same clips as fp32 within 0.02; the path
    taken is printed."""
    scores = {}
    for path in ("fp32", "int8", "bf16"):
        args = ["infer", "--model", str(setup / "model.pth")]
        args += ["--video", str(setup / "videos" / "a.mp4"), "--clips", "2", "--precision", path]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert f"precision {path} -> {path}" in out
        scores[path] = np.array([float(v) for v in out.split("clip scores:")[1].split()])
    for path in ("int8", "bf16"):
        assert np.abs(scores[path] - scores["fp32"]).max() < 0.02, scores


def test_broken_single_video_says_why(setup, capsys):
    code = main(
        [
            "infer",
            "--model",
            str(setup / "model.pth"),
            "--video",
            str(setup / "videos" / "broken.mp4"),
        ]
    )
    assert code == 1
    assert "no score (unreadable" in capsys.readouterr().out


def test_folder_lists_every_video(setup, capsys):
    out_dir = setup / "out"
    code = main(
        [
            "infer",
            "--model",
            str(setup / "model.pth"),
            "--video_dir",
            str(setup / "videos"),
            "--output_dir",
            str(out_dir),
        ]
    )
    assert code == 0
    assert "2 of 4 videos scored" in capsys.readouterr().out
    table = pd.read_csv(out_dir / "predictions.csv").set_index("video")
    table.index = [p.split("videos/")[1] for p in table.index]
    assert sorted(table.index) == ["a.mp4", "broken.mp4", "noise.mp4", "sub/b.mp4"]
    assert table.loc["broken.mp4", "status"] == "unreadable"
    assert table.loc["noise.mp4", "status"] == "no_face"
    assert np.isnan(table.loc["noise.mp4", "score"])
    for v in ("a.mp4", "sub/b.mp4"):
        assert table.loc[v, "status"] == "ok" and 0 <= table.loc[v, "score"] <= 1
        assert table.loc[v, "clips"] == 4


def test_usage_errors(setup, capsys):
    assert main(["infer", "--model", str(setup / "model.pth")]) == 2
    assert "exactly one of --video" in capsys.readouterr().err
    assert main(["infer", "--model", str(setup / "missing.pth"), "--video", "x.mp4"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_an_unexpected_failure_is_recorded_and_the_folder_goes_on(setup, monkeypatch):
    import istvt.infer as infer_module
    from istvt.checkpoint import load_checkpoint
    from istvt.infer import infer_folder, options_for

    real = infer_module.process_video

    def flaky(path, options):
        if path.endswith("a.mp4"):
            raise MemoryError("simulated")
        return real(path, options)

    monkeypatch.setattr(infer_module, "process_video", flaky)
    model = load_checkpoint(setup / "model.pth")
    table = infer_folder(model, setup / "videos", options_for(model), setup / "flaky.csv")
    row = table[table.video.str.endswith("/a.mp4")].iloc[0]
    assert row.status == "error" and "MemoryError: simulated" in row.detail
    assert len(table) == 4 and (table.status == "ok").sum() == 1


def test_visualize_writes_the_clips_figure(setup, tmp_path, capsys):
    video = setup / "videos" / "a.mp4"
    args = ["infer", "--model", str(setup / "model.pth"), "--video", str(video)]
    code = main([*args, "--clips", "2", "--visualize", "--output_dir", str(tmp_path)])
    out = capsys.readouterr().out
    figure = tmp_path / "a.clips.png"
    assert code == 0 and f"figure: {figure}" in out
    assert figure.read_bytes()[:4] == b"\x89PNG"
    relevance = tmp_path / "a.relevance.png"
    assert f"relevance: {relevance}" in out and relevance.read_bytes()[:4] == b"\x89PNG"


def test_overlay_video_has_every_clip_frame(setup, tmp_path, capsys):
    from istvt.data.video import probe

    video = setup / "videos" / "a.mp4"
    args = ["infer", "--model", str(setup / "model.pth"), "--video", str(video), "--clips", "2"]
    code = main([*args, "--overlay_video", "--target", "real", "--output_dir", str(tmp_path)])
    out = capsys.readouterr().out
    overlay = tmp_path / "a.relevance.mp4"
    assert code == 0 and f"relevance: {overlay}" in out
    info = probe(overlay)
    t, size = 4, 64  # the test model: T = 4 frames per clip, 64 px crops, 3x enlarged
    assert info.frames == 2 * t and (info.width, info.height) == (3 * 3 * size, 3 * size)
    bad = ["infer", "--model", str(setup / "model.pth"), "--video_dir", str(video.parent)]
    assert main([*bad, "--visualize", "--output_dir", str(tmp_path)]) != 0
    assert "--video FILE only" in capsys.readouterr().err

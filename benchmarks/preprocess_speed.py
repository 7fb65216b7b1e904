"""Face-clip extraction speed on real benchmark videos: ours vs a naive pipeline vs decoding.

For every video (default: the FF++ / DFDC samples beside the repository) it times, in
one process:

* ``decode``: PyAV decoding every frame of the file once, nothing else -- the floor;
* ``ours``: :func:`istvt.data.preprocess.process_video` -- one forward pass that stops
  after the last needed frame, converts only clip frames, detects on a downscaled copy
  (scale raised only where no face is found), 68 landmarks, nose-centred crops;
* ``naive``: what DeepfakeBench-style scripts do -- OpenCV reads and converts every
  frame in order, keeps 32 evenly spaced frames, runs dlib's detector with upsample=1
  on each full-resolution kept frame, then landmarks and the same crop.

Both extractors produce about 30 aligned frames per video (ours: 5 clips of T=6; FF++
limited to the first 270 frames, as its protocol asks). Peak RSS above the level at the
start of each call shows memory stays bounded.

    python benchmarks/preprocess_speed.py [--videos DIR_OR_FILES ...] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from bench_utils import PeakMemory  # benchmarks/bench_utils.py

from istvt.data.faces import (
    FaceOptions,
    _detector,
    crop_square,
    landmarks,
)
from istvt.data.preprocess import PreprocessOptions, process_video

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "samples"


def decode_only(path: str, skip_frame: str = "DEFAULT") -> int:
    """Decode every frame; ``skip_frame="NONREF"``: let the decoder drop the frames no
    other frame refers to (what a reader that skips unneeded frames could save)."""
    n = 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = skip_frame
        for _ in container.decode(stream):
            n += 1
    return n


def naive(path: str, keep: int = 32, size: int = 300) -> int:
    """Decode + convert every frame with OpenCV, detect (upsample=1) on 32 of them."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    idx = np.linspace(0, len(frames) - 1, keep).round().astype(int) if frames else []
    crops = 0
    for i in idx:
        rgb = cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rects = _detector()(gray, 1)
        if not rects:
            continue
        r = max(rects, key=lambda r: r.area())
        box = np.array([r.left(), r.top(), r.right(), r.bottom()], float)
        pts = landmarks(gray, box)
        side = 1.25 * max(box[2] - box[0], box[3] - box[1])
        crop_square(rgb, pts[30], side, size)
        crops += 1
    return crops


def timed(fn, repeats: int) -> tuple[float, float, object, float]:
    """(median wall s, peak MiB, result, median CPU s of the whole process, threads
    included: where CPU > wall, several cores worked)."""
    times, cpu, peak, out = [], [], 0.0, None
    for _ in range(repeats):
        with PeakMemory(torch.device("cpu")) as mem:
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        peak = max(peak, mem.mib)
    return statistics.median(times), peak, out, statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--videos",
        nargs="+",
        default=[str(SAMPLES)],
        help="video files or folders (searched recursively for .mp4)",
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow baseline")
    args = parser.parse_args()

    paths = []
    for item in map(Path, args.videos):
        paths += sorted(item.rglob("*.mp4")) if item.is_dir() else [item]
    if not paths:
        raise SystemExit(f"no videos found in {args.videos}")
    _detector()  # load models outside the timings
    landmarks(np.zeros((100, 100), np.uint8), np.array([10.0, 10, 90, 90]))

    rows = []
    header = (
        "| video | frames | size | decode s | ours s | naive s | ours/decode | "
        "naive/ours | ours clips | naive crops | ours peak MiB | naive peak MiB | "
        "decode CPU s | ours CPU s | NONREF decode CPU s |"
    )
    print(header + "\n|" + "---|" * 15, flush=True)
    for path in paths:
        ffpp = "FaceForensics++" in str(path)
        options = PreprocessOptions(
            sequence_length=6,
            clips_per_video=5,
            max_frames=270 if ffpp else None,
            faces=FaceOptions(image_size=300),
        )
        t_dec, _, n, c_dec = timed(lambda p=str(path): decode_only(p), args.repeats)
        *_, c_nonref = timed(lambda p=str(path): decode_only(p, "NONREF"), args.repeats)
        t_ours, m_ours, (status, clips), c_ours = timed(
            lambda p=str(path), o=options: process_video(p, o), args.repeats
        )
        if args.skip_naive:
            t_naive, m_naive, crops = float("nan"), float("nan"), 0
        else:
            t_naive, m_naive, crops, _ = timed(lambda p=str(path): naive(p), args.repeats)
        rows.append((t_dec, t_ours, t_naive, c_dec, c_ours, c_nonref))
        print(
            f"| {path.name} | {n} | {status['width']}x{status['height']} | {t_dec:.2f} | "
            f"{t_ours:.2f} | {t_naive:.2f} | {t_ours / t_dec:.2f} | {t_naive / t_ours:.1f} | "
            f"{len(clips)} | {crops} | {m_ours:.0f} | {m_naive:.0f} | {c_dec:.2f} | "
            f"{c_ours:.2f} | {c_nonref:.2f} |",
            flush=True,
        )
    dec, ours, nv, c_dec, c_ours, c_nonref = (np.array(c) for c in zip(*rows, strict=True))
    cores = os.cpu_count() or 1
    print(
        f"\nmean s/video: decode {dec.mean():.2f}, ours {ours.mean():.2f}, naive "
        f"{nv.mean():.2f}; ours/decode {ours.sum() / dec.sum():.2f}x (target <= 2), "
        f"naive/ours {nv.sum() / ours.sum():.1f}x (target >= 10)"
        f"\nmean CPU s/video: decode {c_dec.mean():.2f}, ours {c_ours.mean():.2f} (decode and "
        f"alignment), decode with NONREF frames dropped {c_nonref.mean():.2f}; on {cores} "
        f"cores ours cannot take less than {c_ours.sum() / cores / dec.sum():.2f}x the "
        f"decode's wall time"
    )


if __name__ == "__main__":
    main()

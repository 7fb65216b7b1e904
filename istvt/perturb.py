"""Robustness perturbations of test clips (paper §IV-D, Fig. 6) and the standard
LipForensics / DeeperForensics suite, deterministic per seed.

Clip-level perturbations act on the aligned face crops, (T, S, S, 3) uint8 RGB:

============== ============================================= ==========================
name           level                                         paper levels
============== ============================================= ==========================
jpeg           JPEG quality of every frame                   50, 45, ..., 10
downscale      factor: down-sample, then back to S           0.9, 0.8, ..., 0.1
dropout        number of 16x16 squares set to black, the     8, 16, 24, 32, 40
               same squares on every frame of the clip
saturation     factor on the HSV saturation                  0.4, 0.3, 0.2, 0.1, 0.0
contrast       factor on each frame's deviation from its     0.85, 0.725, 0.6, 0.475,
               mean                                          0.35
block          number of grey 8x8 blocks (same on every      16, 32, 48, 64, 80
               frame)
noise          variance of Gaussian noise added in YCbCr     0.001, 0.002, 0.005, 0.01,
               on a [0, 1] scale                             0.05
blur           Gaussian kernel size k, sigma = k / 6         7, 9, 13, 17, 21
pixelation     factor: down-sample by it, nearest up-sample  2, 3, 4, 5, 6
============== ============================================= ==========================

Sizes in pixels (squares, blocks, blur kernels) are given for the paper's 300-pixel
face crops and scaled by S / 300, so a perturbation covers the same share of the
face at every crop size (the demo's 64-pixel crops included).

The video-level perturbation ``compression`` (H.264 re-encoding at CRF 30, 32, 35, 38,
40) acts on the video before face extraction: :func:`compress_video`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REFERENCE_SIZE = 300  # the paper's face-crop side; pixel sizes below are for it

#: the paper's / the standard suite's levels, mildest first
LEVELS: dict[str, list[float]] = {
    "jpeg": [50, 45, 40, 35, 30, 25, 20, 15, 10],
    "downscale": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
    "dropout": [8, 16, 24, 32, 40],
    "saturation": [0.4, 0.3, 0.2, 0.1, 0.0],
    "contrast": [0.85, 0.725, 0.6, 0.475, 0.35],
    "block": [16, 32, 48, 64, 80],
    "noise": [0.001, 0.002, 0.005, 0.01, 0.05],
    "blur": [7, 9, 13, 17, 21],
    "pixelation": [2, 3, 4, 5, 6],
    "compression": [30, 32, 35, 38, 40],
}
VIDEO_LEVEL = ("compression",)
DROPOUT_SIDE = 16  # pixels of a 300-pixel crop
BLOCK_SIDE = 8


def _side(pixels: float, size: int) -> int:
    return max(1, int(round(pixels * size / REFERENCE_SIZE)))


def _squares(clip, count: int, side: int, value: int, rng: np.random.Generator):
    """``count`` side x side squares at random positions, the same in every frame."""
    out = clip.copy()
    size = clip.shape[1]
    for _ in range(int(count)):
        y, x = rng.integers(0, size - side + 1, size=2)
        out[:, y : y + side, x : x + side] = value
    return out


def encode_jpeg(frame: np.ndarray, quality: float) -> bytes:
    """One RGB frame as a baseline JPEG at ``quality`` (libjpeg's IJG scaling)."""
    ok, buf = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"JPEG encoding at quality {quality} failed")
    return buf.tobytes()


def jpeg(clip: np.ndarray, quality: float, rng=None) -> np.ndarray:
    return np.stack(
        [
            cv2.imdecode(np.frombuffer(encode_jpeg(f, quality), np.uint8), cv2.IMREAD_COLOR)[
                ..., ::-1
            ]
            for f in clip
        ]
    )


def _down_up(clip: np.ndarray, small: int, up: int) -> np.ndarray:
    """Every frame down-sampled to small x small (area), then back with ``up``."""
    size = clip.shape[1]
    small = max(1, small)
    return np.stack(
        [
            cv2.resize(
                cv2.resize(f, (small, small), interpolation=cv2.INTER_AREA),
                (size, size),
                interpolation=up,
            )
            for f in clip
        ]
    )


def downscale(clip: np.ndarray, factor: float, rng=None) -> np.ndarray:
    return _down_up(clip, int(round(clip.shape[1] * factor)), cv2.INTER_LINEAR)


def dropout(clip: np.ndarray, regions: float, rng: np.random.Generator) -> np.ndarray:
    return _squares(clip, int(regions), _side(DROPOUT_SIDE, clip.shape[1]), 0, rng)


def block(clip: np.ndarray, blocks: float, rng: np.random.Generator) -> np.ndarray:
    return _squares(clip, int(blocks), _side(BLOCK_SIDE, clip.shape[1]), 128, rng)


def saturation(clip: np.ndarray, factor: float, rng=None) -> np.ndarray:
    out = []
    for f in clip:
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 1] *= factor
        out.append(cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB))
    return np.stack(out)


def contrast(clip: np.ndarray, factor: float, rng=None) -> np.ndarray:
    x = clip.astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip((x - mean) * factor + mean + 0.5, 0, 255).astype(np.uint8)


def noise(clip: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    out = []
    for f in clip:
        ycc = cv2.cvtColor(f, cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255.0
        ycc += rng.normal(0.0, np.sqrt(variance), size=ycc.shape).astype(np.float32)
        ycc = (np.clip(ycc, 0, 1) * 255.0 + 0.5).astype(np.uint8)
        out.append(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB))
    return np.stack(out)


def blur(clip: np.ndarray, kernel: float, rng=None) -> np.ndarray:
    sigma = kernel / 6.0 * clip.shape[1] / REFERENCE_SIZE
    k = max(1, int(np.ceil(6 * sigma)) | 1)  # odd, covering +-3 sigma
    return np.stack([cv2.GaussianBlur(f, (k, k), sigma) for f in clip])


def pixelation(clip: np.ndarray, factor: float, rng=None) -> np.ndarray:
    return _down_up(clip, int(round(clip.shape[1] / factor)), cv2.INTER_NEAREST)


CLIP_LEVEL: dict[str, Callable] = {
    "jpeg": jpeg,
    "downscale": downscale,
    "dropout": dropout,
    "saturation": saturation,
    "contrast": contrast,
    "block": block,
    "noise": noise,
    "blur": blur,
    "pixelation": pixelation,
}


def check(name: str, level: float) -> None:
    """Raise a ValueError naming the perturbation when it or its level is invalid."""
    if name not in LEVELS:
        raise ValueError(f"unknown perturbation {name!r}; choose from {', '.join(LEVELS)}")
    bounds = {
        "jpeg": (1, 100),
        "downscale": (0.01, 1.0),
        "saturation": (0.0, 10.0),
        "contrast": (0.0, 10.0),
        "noise": (0.0, 1.0),
        "compression": (0, 51),
    }
    lo, hi = bounds.get(name, (1, 10_000))
    if not lo <= level <= hi:
        raise ValueError(f"perturbation {name}: level {level} outside [{lo}, {hi}]")


def clip_rng(seed: int, key: str) -> np.random.Generator:
    """The random stream of one clip: fixed by the seed and the clip's key (video id and
    start), independent of the order clips are visited in."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def perturb_clip(
    clip: np.ndarray, name: str, level: float, seed: int = 0, key: str = ""
) -> np.ndarray:
    """One clip-level perturbation of a (T, S, S, 3) uint8 clip."""
    check(name, level)
    if name in VIDEO_LEVEL:
        raise ValueError(f"{name} acts on the video, not on face crops: use compress_video")
    return CLIP_LEVEL[name](np.asarray(clip), level, clip_rng(seed, key))


def compress_video(src: str | Path, dst: str | Path, crf: float) -> Path:
    """Re-encode a video with H.264 (libx264, yuv420p) at ``crf``, frame by frame (no
    whole video in memory), every frame kept; written to a temporary name, then renamed
    (:func:`istvt.data.encode.reencode_h264`)."""
    from istvt.data.encode import reencode_h264

    check("compression", crf)
    return reencode_h264(src, dst, int(crf))


def compress_videos(
    manifest, root: str | Path, out_dir: str | Path, crf: float, out_manifest: str | Path
):
    """Re-encode the test-split videos of a manifest at ``crf`` under ``out_dir`` (same
    relative paths as under ``root``) and write their manifest with the new paths.

    A video that cannot be re-encoded keeps its row, pointing at the missing file, so
    face extraction records it as failed with the reason; nothing is dropped.
    """
    import logging
    import time

    from istvt.data.encode import EncoderProcess
    from istvt.data.manifest import write_manifest

    log = logging.getLogger(__name__)
    root, out_dir = Path(root).resolve(), Path(out_dir)
    rows = manifest[manifest.split == "test"].reset_index(drop=True).copy()
    check("compression", crf)
    paths, t0 = [], time.perf_counter()
    # each video in a fresh process: reproducible bytes (istvt.data.encode)
    with EncoderProcess() as encoder:
        for n, row in enumerate(rows.itertuples(index=False), 1):
            src = Path(row.path).resolve()
            try:
                rel = src.relative_to(root)
            except ValueError:
                rel = Path(row.video_id.replace("/", "__") + src.suffix)
            dst = (out_dir / rel).with_suffix(".mp4")
            error = encoder.compress(src, dst, crf)
            if error:  # a broken source video must not end the run
                log.warning("%s: not re-encoded (%s)", row.video_id, error)
            paths.append(str(dst.resolve()))
            rate = (time.perf_counter() - t0) / n
            log.info(
                "%d/%d %s, %.1f s/video, ETA %.0f s",
                n,
                len(rows),
                row.video_id,
                rate,
                rate * (len(rows) - n),
            )
    rows["path"] = paths
    write_manifest(rows, out_manifest)
    return rows

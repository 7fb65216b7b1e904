"""Helpers that build small test videos (nothing is shipped or downloaded)."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from istvt.data.demo import film, make_identities, write_video


@lru_cache(maxsize=1)
def people():
    return make_identities(6, seed=0)


def face_frames(n: int = 12, size: int = 192, person: int = 0, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) frames of a moving demo face."""
    return film(people()[person], n, size, 25, np.random.default_rng(seed)).frames


def save(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    write_video(Path(path), frames, fps, crf=23)
    return Path(path)


def save_variable_fps(path: Path, frames: np.ndarray) -> Path:
    """Frames with irregular timestamps (30-50 ms apart)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            pts += int(rng.integers(30, 51))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)

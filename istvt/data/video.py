"""Probing videos, choosing clip frames, and reading only the frames needed.

Frames are read with PyAV in one forward pass that stops after the last needed frame;
frames that are not needed are decoded (a codec must) but never converted to arrays,
which is where naive pipelines spend their time. Memory holds one clip at a time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np


class VideoError(RuntimeError):
    """A video cannot be used; ``reason`` is a short machine-readable status."""

    def __init__(self, path: str | Path, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frames: int  # frame count (container header, else estimated from duration x fps)
    fps: float
    width: int
    height: int


def probe(path: str | Path) -> VideoInfo:
    """Read a video's header. Raises :class:`VideoError` with reason ``missing``,
    ``empty_file``, ``unreadable`` or ``no_video_stream``."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "missing")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty_file")
    try:
        with open_video(path) as container:
            if not container.streams.video:
                raise VideoError(path, "no_video_stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            frames = int(stream.frames or 0)
            if frames == 0:  # no count in the header: estimate from duration x fps
                duration = (
                    float(stream.duration * stream.time_base)
                    if stream.duration
                    else (container.duration or 0) / av.time_base
                )
                frames = int(math.floor(duration * fps))
            width, height = stream.codec_context.width, stream.codec_context.height
    except VideoError:
        raise
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(path, "unreadable", str(exc).splitlines()[0][:200]) from exc
    if width <= 0 or height <= 0:
        raise VideoError(path, "unreadable", "stream has no frame size")
    return VideoInfo(str(path), frames, fps, width, height)


#: ``clips_per_video`` value for every non-overlapping window of the usable frames.
ALL_CLIPS = "all"


def clip_starts(
    num_frames: int,
    sequence_length: int,
    clips_per_video: int | str,
    max_frames: int | None = None,
) -> list[int]:
    """First frame of each clip: ``clips_per_video`` windows of ``sequence_length``
    consecutive frames spread evenly over the first ``max_frames`` frames, or with
    ``"all"`` every non-overlapping window (0, T, 2T, ...: 45 clips of 6 frames from
    FF++'s first 270, as in the paper).

    Returns fewer starts when the video is too short for distinct clips, and an empty
    list when it has fewer than ``sequence_length`` frames.
    """
    usable = min(num_frames, max_frames) if max_frames else num_frames
    if clips_per_video == ALL_CLIPS:
        return list(range(0, usable - sequence_length + 1, sequence_length))
    if usable < sequence_length or clips_per_video < 1:
        return []
    last = usable - sequence_length
    if clips_per_video == 1:
        return [last // 2]
    starts = np.linspace(0, last, clips_per_video).round().astype(int)
    return sorted(set(starts.tolist()))


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame -> RGB uint8 (H, W, 3). yuv420p (most H.264) goes through OpenCV's
    SIMD converter, 2-3x faster than swscale; other formats through swscale."""
    if frame.format.name == "yuv420p":
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


@dataclass
class DecodeReport:
    """What decoding met on the way: frames decoded and lost to corrupt packets, where
    the damage began, and whether the stream could not be read to its end."""

    frames_decoded: int = 0
    frames_lost: int = 0
    first_error_frame: int | None = None
    error: str = ""
    stopped_early: bool = False  # the container could not be read past an error

    def note(self, frame: int, exc: Exception) -> None:
        if self.first_error_frame is None:
            self.first_error_frame = frame
            self.error = str(exc).splitlines()[0][:200]

    def summary(self) -> str:
        """One line for the status table ('' when nothing went wrong)."""
        if self.first_error_frame is None:
            return ""
        text = f"stream corrupt at frame {self.first_error_frame} ({self.error})"
        if self.frames_lost:
            text += f"; {self.frames_lost} frame(s) lost, skipped"
        if self.stopped_early:
            text += f"; unreadable after {self.frames_decoded + self.frames_lost} frame(s)"
        return text


def open_video(path: str | Path) -> av.container.InputContainer:
    """Open a video for reading. Metadata that is not valid UTF-8 (common in real-world
    files: a damaged or foreign encoder tag) is decoded leniently instead of failing."""
    return av.open(str(path), metadata_errors="ignore")


def iter_clips(
    path: str | Path,
    starts: Sequence[int],
    sequence_length: int,
    skip: Callable[[int], bool] | None = None,
    report: DecodeReport | None = None,
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield ``(start, frames)`` for each clip, frames as RGB uint8 (H, W, 3) arrays.

    Decodes forward once, packet by packet, converting only frames inside a clip, and
    stops after the last clip. ``skip(start)``, asked when the decoder reaches a clip,
    lets the caller pass over a clip it no longer needs (its frames are then never
    converted). A packet the decoder rejects is skipped, as FFmpeg's own tools conceal
    and go on: its frame counts as lost, and no clip spans it. A container that cannot
    be read further ends the stream. Clips the stream ends before are not yielded;
    ``report`` (when given) says what was lost and where.

    Frame numbers are presentation order: a frame's number is the count of packets
    with an earlier timestamp, so a lost frame leaves a hole in the numbering wherever
    the decoder's delay (B-frames, frame threads) reports the error.
    """
    report = report if report is not None else DecodeReport()
    starts = sorted(set(starts))
    if not starts:
        return
    first = set(starts)
    last = max(starts) + sequence_length - 1
    active: list[int] = []  # clips being collected
    buffer: dict[int, np.ndarray] = {}
    seen: list[int] = []  # timestamps of the packets read so far, sorted
    counted = -1  # frame number by count, for streams without timestamps
    shown: set[int] = set()  # frame numbers the decoder put out
    try:
        container = open_video(path)
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(path, "unreadable", str(exc).splitlines()[0][:200]) from exc
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        packets = container.demux(stream)
        done = False
        while not done:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:  # the container itself is damaged here
                report.note(report.frames_decoded + report.frames_lost, exc)
                report.stopped_early = True
                break
            if packet.pts is not None and packet.size:
                bisect.insort(seen, packet.pts)
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:  # a corrupt packet: its frame is lost
                report.note(counted + 1, exc)
                report.frames_lost += 1
                counted += 1
                continue
            for frame in frames:
                counted += 1
                report.frames_decoded += 1
                index = bisect.bisect_left(seen, frame.pts) if frame.pts is not None else counted
                shown.add(index)
                if index in first and not (skip and skip(index)):
                    active.append(index)
                if any(s <= index < s + sequence_length for s in active):
                    buffer[index] = to_rgb(frame)
                for start in [s for s in active if s + sequence_length - 1 <= index]:
                    active.remove(start)
                    window = range(start, start + sequence_length)
                    if all(i in buffer for i in window):  # else a frame of it was lost
                        yield start, [buffer[i] for i in window]
                keep_from = min(active) if active else index + 1
                for k in [k for k in buffer if k < keep_from]:
                    del buffer[k]
                if index >= last:
                    done = True
                    break
        if report.frames_lost and seen and shown:
            # With frame threads the decoder reports an error packets later than the
            # damaged one: the lost frames are the numbers it never put out.
            missing = sorted(set(range(max(shown) + 1)) - shown)
            if missing:
                report.first_error_frame = missing[0]
                report.frames_lost = max(report.frames_lost, len(missing))

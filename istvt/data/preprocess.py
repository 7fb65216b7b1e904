"""Videos -> aligned face clips in shards, with one status row per input video.

Every video of the manifest gets exactly one status row, whatever happens to it:
``ok`` (at least one clip written) or the reason it yielded none (``missing``,
``empty_file``, ``unreadable``, ``no_video_stream``, ``corrupt`` (damaged before the
first clip), ``too_short``, ``too_large``, ``no_face``, ``clips_dropped``).
processed + failed = input count. Corrupt packets later in a video are skipped, and
``frames_lost`` and ``detail`` say how many and where.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from istvt.data.faces import FaceOptions, FaceTracker, align_clip
from istvt.data.shards import STORES, encode_clip, write_shard
from istvt.data.video import ALL_CLIPS, DecodeReport, VideoError, clip_starts, iter_clips, probe

log = logging.getLogger(__name__)

STATUS_COLUMNS = [
    "video_id",
    "label",
    "split",
    "status",
    "clips_written",
    "clips_asked",
    "frames_without_face",
    "frames_filled",
    "max_faces",
    "frames_lost",
    "width",
    "height",
    "frames",
    "fps",
    "seconds",
    "detail",
]


@dataclass(frozen=True)
class PreprocessOptions:
    """Sampling and alignment settings (the config's ``preprocess`` section)."""

    sequence_length: int = 6
    #: clips per video spread evenly, or "all": every non-overlapping window of the
    #: usable frames (the paper: 45 clips from FF++'s first 270 frames)
    clips_per_video: int | str = 4
    max_frames: int | None = None  # FF++ protocol: 270 (first frames only)
    max_side: int = 4096  # longer side above which a video is refused (memory bound)
    retries: int = 3  # later windows (T frames apart) tried when a clip lacks faces
    shard_size: int = 64  # videos per shard file
    #: how shards hold the aligned frames: "raw" (uncompressed, memory-mapped) or
    #: "webp" / "png" (lossless, per frame, decoded by the loader workers)
    store: str = "raw"
    faces: FaceOptions = field(default_factory=FaceOptions)

    def __post_init__(self) -> None:
        if self.clips_per_video != ALL_CLIPS and not (
            isinstance(self.clips_per_video, int) and self.clips_per_video >= 1
        ):
            raise ValueError(
                f"clips_per_video must be an integer >= 1 or {ALL_CLIPS!r}, "
                f"got {self.clips_per_video!r}"
            )
        if self.sequence_length < 1:
            raise ValueError("sequence_length must be >= 1")
        if self.store not in STORES:
            raise ValueError(f"store must be one of {', '.join(STORES)}, got {self.store!r}")
        if self.max_frames is not None and self.max_frames < self.sequence_length:
            raise ValueError(f"max_frames {self.max_frames} < sequence_length")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PreprocessOptions:
        """Flat mapping (face keys beside the sampling keys) -> options."""
        from istvt.config import dataclass_from_dict

        data = dict(data or {})
        face_keys = {f.name for f in fields(FaceOptions)}
        faces = dataclass_from_dict(
            FaceOptions, {k: data.pop(k) for k in list(data) if k in face_keys}, "preprocess"
        )
        return dataclass_from_dict(cls, {**data, "faces": faces}, "preprocess")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("faces"))
        return out


def process_video(path: str, options: PreprocessOptions) -> tuple[dict, list]:
    """Align the clips of one video. Returns (status fields, list of (start, AlignedClip))."""
    status: dict[str, Any] = {
        "status": "ok",
        "clips_written": 0,
        "clips_asked": 0,
        "frames_without_face": 0,
        "frames_filled": 0,
        "max_faces": 0,
        "frames_lost": 0,
        "width": 0,
        "height": 0,
        "frames": 0,
        "fps": 0.0,
        "detail": "",
    }
    clips = []
    try:
        info = probe(path)
        status.update(
            width=info.width, height=info.height, frames=info.frames, fps=round(info.fps, 3)
        )
        if max(info.width, info.height) > options.max_side:
            raise VideoError(
                path, "too_large", f"{info.width}x{info.height} > max_side {options.max_side}"
            )
        starts = clip_starts(
            info.frames, options.sequence_length, options.clips_per_video, options.max_frames
        )
        if not starts:
            raise VideoError(
                path,
                "too_short",
                f"{info.frames} frames < sequence_length {options.sequence_length}",
            )
        status["clips_asked"] = len(starts)
        # each planned clip may fall back on the next windows, up to the next clip
        t = options.sequence_length
        usable = min(info.frames, options.max_frames or info.frames)
        owner: dict[int, int] = {}
        for k, start in enumerate(starts):
            limit = starts[k + 1] if k + 1 < len(starts) else usable
            owner.setdefault(start, k)
            for r in range(1, options.retries + 1):
                window = start + r * t
                if window + t <= limit:
                    owner.setdefault(window, k)
        tracker = FaceTracker(options.faces)
        done: set[int] = set()
        reached: set[int] = set()  # planned clips the stream got to
        decoding = DecodeReport()
        for start, frames in iter_clips(
            path, sorted(owner), t, skip=lambda s: owner[s] in done, report=decoding
        ):
            k = owner[start]
            reached.add(k)
            if k in done:
                continue
            clip, without = align_clip(frames, tracker)
            status["frames_without_face"] += without
            if clip is not None:
                status["frames_filled"] += without
                clips.append((start, clip))
                done.add(k)
        status["max_faces"] = tracker.faces_seen_max
        status["frames_lost"] = decoding.frames_lost
        if not reached and decoding.first_error_frame is not None:
            raise VideoError(
                path,
                "corrupt",
                f"{decoding.summary()}; {decoding.frames_decoded} frame(s) decoded, "
                f"no whole clip of {t} frames",
            )
        if not reached:
            raise VideoError(
                path,
                "too_short",
                f"the stream ended after {decoding.frames_decoded} frame(s), before the "
                f"first clip (header: {info.frames})",
            )
        if not clips:
            reason = "no_face" if tracker.faces_seen_max == 0 else "clips_dropped"
            raise VideoError(
                path,
                reason,
                f"{len(reached)} clip(s) decoded, none with a face in "
                f"every frame (fill_window {options.faces.fill_window})",
            )
        notes = [decoding.summary()] if decoding.first_error_frame is not None else []
        if len(reached) < len(starts):
            notes.append(f"stream ended after {len(reached)} of {len(starts)} clips")
        status["detail"] = "; ".join(notes)
    except VideoError as exc:
        status.update(status=exc.reason, detail=exc.detail)
        clips = []
    status["clips_written"] = len(clips)
    return status, clips


def preprocess_shard(
    manifest: pd.DataFrame,
    options: PreprocessOptions,
    shard_path: str | Path,
    status_path: str | Path,
) -> pd.DataFrame:
    """Process every video of ``manifest`` into one shard plus its status table."""
    s, size = options.sequence_length, options.faces.image_size
    arrays: dict[str, list] = {
        "clips": [],
        "landmarks": [],
        "video_ids": [],
        "labels": [],
        "starts": [],
        "boxes": [],
    }
    rows = []
    total = len(manifest)
    t0 = time.perf_counter()
    for n, video in enumerate(manifest.itertuples(index=False), 1):
        t = time.perf_counter()
        try:
            status, clips = process_video(video.path, options)
        except Exception as exc:  # an unforeseen failure must not lose the video
            log.exception("%s: unexpected error", video.video_id)
            status = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
            clips = []
        for start, clip in clips:
            # encoded at once: a shard of 45-clip videos would not fit in memory raw
            arrays["clips"].append(
                clip.frames if options.store == "raw" else encode_clip(clip.frames, options.store)
            )
            arrays["landmarks"].append(clip.landmarks)
            arrays["video_ids"].append(video.video_id)
            arrays["labels"].append(video.label)
            arrays["starts"].append(start)
            arrays["boxes"].append(clip.boxes)
        rows.append(
            {
                "video_id": video.video_id,
                "label": video.label,
                "split": video.split,
                **status,
                "seconds": round(time.perf_counter() - t, 3),
            }
        )
        elapsed = time.perf_counter() - t0
        log.info(
            "[%d/%d] %s: %s, %d clip(s) | %.2f s/video, ETA %.0f s",
            n,
            total,
            video.video_id,
            status["status"],
            status.get("clips_written", 0),
            elapsed / n,
            elapsed / n * (total - n),
        )
    if options.store == "raw":
        frames = {
            "clips": np.stack(arrays["clips"])
            if arrays["clips"]
            else np.zeros((0, s, size, size, 3), np.uint8)
        }
    else:
        frames = {"encoded": (arrays["clips"], (s, size, size, 3), options.store)}
    write_shard(
        shard_path,
        {
            **frames,
            "landmarks": np.stack(arrays["landmarks"])
            if arrays["landmarks"]
            else np.zeros((0, s, 68, 2), np.float32),
            "video_ids": np.array(arrays["video_ids"], dtype=str),
            "labels": np.array(arrays["labels"], dtype=np.int8),
            "starts": np.array(arrays["starts"], dtype=np.int32),
            "boxes": np.stack(arrays["boxes"])
            if arrays["boxes"]
            else np.zeros((0, s, 3), np.float32),
        },
    )
    table = pd.DataFrame(rows).reindex(columns=STATUS_COLUMNS)
    table = table.fillna(
        {
            "clips_written": 0,
            "clips_asked": 0,
            "frames_without_face": 0,
            "frames_filled": 0,
            "max_faces": 0,
            "frames_lost": 0,
            "detail": "",
        }
    )
    Path(status_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(status_path, index=False)
    if len(table) != total:  # the invariant every report relies on
        raise AssertionError(f"status rows {len(table)} != input videos {total}")
    return table


def shard_count(manifest: pd.DataFrame, shard_size: int) -> int:
    """Number of shards of ``shard_size`` videos a manifest splits into."""
    if shard_size < 1:
        raise ValueError(f"preprocess.shard_size must be >= 1, got {shard_size}")
    return max(1, -(-len(manifest) // shard_size))


def shard_rows(manifest: pd.DataFrame, shard_size: int, shard: int) -> pd.DataFrame:
    """The videos of shard ``shard`` (manifest order, ``shard_size`` per shard)."""
    n = shard_count(manifest, shard_size)
    if not 0 <= shard < n:
        raise ValueError(f"shard {shard} out of range: the manifest has {n} shard(s)")
    return manifest.iloc[shard * shard_size : (shard + 1) * shard_size]


def preprocess_dataset(
    manifest: pd.DataFrame,
    options: PreprocessOptions,
    out_dir: str | Path,
    shard_size: int | None = None,
    shards: list[int] | None = None,
) -> pd.DataFrame:
    """Process a manifest into ``out_dir/shard-{k}.npz`` + ``shard-{k}.status.csv`` and
    a combined ``status.csv``. Shards whose files exist are kept (an interrupted run
    resumes where it stopped)."""
    out_dir = Path(out_dir)
    shard_size = shard_size or options.shard_size
    n = shard_count(manifest, shard_size)
    tables = []
    for k in shards if shards is not None else range(n):
        shard_path = out_dir / f"shard-{k}.npz"
        status_path = out_dir / f"shard-{k}.status.csv"
        if shard_path.is_file() and status_path.is_file():
            log.info("shard %d/%d already done, skipping", k + 1, n)
            tables.append(pd.read_csv(status_path, keep_default_na=False))
            continue
        log.info("shard %d/%d", k + 1, n)
        tables.append(
            preprocess_shard(shard_rows(manifest, shard_size, k), options, shard_path, status_path)
        )
    table = pd.concat(tables, ignore_index=True)
    if shards is None:
        table.to_csv(out_dir / "status.csv", index=False)
    return table

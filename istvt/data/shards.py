"""Aligned clips on disk: one uncompressed ``.npz`` per shard of videos.

Members of a shard::

    clips       (K, T, S, S, 3) uint8   RGB face crops
    landmarks   (K, T, 68, 2)  float32  in crop pixel coordinates
    video_ids   (K,)           str      manifest video id of each clip
    labels      (K,)           int8     0 real / 1 fake
    starts      (K,)           int32    first frame index of the clip in its video
    boxes       (K, T, 3)      float32  crop centre x, y and side in source-frame pixels
                                        (optional: shards written before it lack it)

``np.savez`` stores members uncompressed, so :class:`ShardReader` maps them straight
from the file (``np.memmap``): a loader reads one clip without reading the shard.
Shards are written to a temporary file and renamed, so no half-written shard survives
a crash.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from istvt.fsutil import atomic_path

MEMBERS = ("clips", "landmarks", "video_ids", "labels", "starts")
OPTIONAL_MEMBERS = ("boxes",)


def write_shard(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Atomically write a shard (temporary file in the same folder + rename)."""
    path = Path(path)
    missing = [m for m in MEMBERS if m not in arrays]
    if missing:
        raise ValueError(f"shard {path}: missing member(s) {', '.join(missing)}")
    members = MEMBERS + tuple(m for m in OPTIONAL_MEMBERS if m in arrays)
    counts = {m: len(arrays[m]) for m in members}
    if len(set(counts.values())) != 1:
        raise ValueError(f"shard {path}: members disagree on clip count: {counts}")
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **{m: arrays[m] for m in members})
        fh.flush()
        os.fsync(fh.fileno())
    return path


def _member_memmap(path: Path, zf: zipfile.ZipFile, name: str) -> np.ndarray:
    info = zf.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: member {name} is compressed; shards must be stored")
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: corrupt zip header for {name}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(fh)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if dtype.hasobject:
        raise ValueError(f"{path}: member {name} holds Python objects; refusing to load")
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )


class ShardReader:
    """Random access to the clips of one shard without reading the whole file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: shard not found")
        try:
            with zipfile.ZipFile(self.path) as zf:
                arrays = {m: _member_memmap(self.path, zf, m) for m in MEMBERS}
                names = set(zf.namelist())
                for m in OPTIONAL_MEMBERS:
                    if f"{m}.npy" in names:
                        arrays[m] = _member_memmap(self.path, zf, m)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"{self.path}: not a valid shard ({exc})") from exc
        self.clips = arrays["clips"]
        self.landmarks = arrays["landmarks"]
        self.video_ids = np.asarray(arrays["video_ids"]).astype(str)
        self.labels = np.asarray(arrays["labels"]).astype(np.int64)
        self.starts = np.asarray(arrays["starts"]).astype(np.int64)
        self.boxes = arrays.get("boxes")  # None for shards written without crop geometry

    def __len__(self) -> int:
        return len(self.video_ids)

    def clip(self, i: int) -> np.ndarray:
        """(T, S, S, 3) uint8 copy of clip ``i``."""
        return np.array(self.clips[i])

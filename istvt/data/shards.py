"""Aligned clips on disk: one ``.npz`` per shard of videos, its members stored (not
zip-compressed) so that they are memory-mapped.

Members of a shard::

    clips       (K, T, S, S, 3) uint8   RGB face crops, uncompressed (store "raw")
      or, with a lossless image store ("webp", "png"), the same clips encoded per frame:
    frames      (N,) uint8              every frame's encoded bytes, one after another
    offsets     (K, T + 1) int64        frame t of clip k is frames[offsets[k, t]:offsets[k, t + 1]]
    encoding    (1,) str                "webp" or "png"
    clip_shape  (4,) int64              T, S, S, 3
    landmarks   (K, T, 68, 2)  float32  in crop pixel coordinates
    video_ids   (K,)           str      manifest video id of each clip
    labels      (K,)           int8     0 real / 1 fake
    starts      (K,)           int32    first frame index of the clip in its video
    boxes       (K, T, 3)      float32  crop centre x, y and side in source-frame pixels
                                        (optional: shards written before it lack it)

``np.savez`` stores members uncompressed, so :class:`ShardReader` maps them straight
from the file (``np.memmap``): a loader reads one clip without reading the shard, and
decodes an encoded clip's frames itself (in the loader's worker processes).
Shards are written to a temporary file and renamed, so no half-written shard survives
a crash.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import cv2
import numpy as np

from istvt.fsutil import atomic_path

MEMBERS = ("clips", "landmarks", "video_ids", "labels", "starts")
OPTIONAL_MEMBERS = ("boxes",)
ENCODED_MEMBERS = ("frames", "offsets", "encoding", "clip_shape")
#: How a shard can hold its frames: uncompressed, or lossless per-frame images.
STORES = ("raw", "webp", "png")
_ENCODE_PARAMS = {
    "webp": (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),  # quality > 100: lossless
    "png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]),
}


def encode_clip(frames: np.ndarray, store: str) -> list[bytes]:
    """(T, S, S, 3) uint8 RGB -> one lossless image per frame."""
    ext, params = _ENCODE_PARAMS[store]
    out = []
    for frame in frames:
        ok, buf = cv2.imencode(ext, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise ValueError(f"could not encode a frame as {store}")
        out.append(buf.tobytes())
    return out


def decode_frame(data: np.ndarray) -> np.ndarray:
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError("a stored frame could not be decoded")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class EncodedClips:
    """The clips of a shard with an image store, indexed like the raw (K, T, S, S, 3)
    array: ``clips[k]`` decodes clip k; ``clips[k, t]`` frame t of it."""

    def __init__(self, frames: np.ndarray, offsets: np.ndarray, shape: tuple, store: str):
        self.frames, self.offsets, self.store = frames, np.asarray(offsets), store
        self.shape = (len(self.offsets), *shape)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, slice):
            picked = range(*key.indices(len(self)))
            clips = np.zeros((len(picked), *self.shape[1:]), np.uint8)
            for n, k in enumerate(picked):
                clips[n] = self[k]
            return clips[(slice(None), *rest)]
        k = int(key)
        bounds = self.offsets[k]
        clip = np.stack(
            [
                decode_frame(np.asarray(self.frames[bounds[t] : bounds[t + 1]]))
                for t in range(len(bounds) - 1)
            ]
        )
        return clip[rest] if rest else clip


def _encoded_members(encoded) -> dict[str, np.ndarray]:
    """(per-clip lists of frame bytes, clip shape, store) -> the shard members."""
    clips, shape, store = encoded
    if store not in _ENCODE_PARAMS:
        raise ValueError(f"unknown frame store {store!r}")
    sizes = np.array([[len(b) for b in clip] for clip in clips], dtype=np.int64)
    sizes = sizes.reshape(len(clips), shape[0])
    offsets = np.zeros((len(clips), shape[0] + 1), np.int64)
    flat = np.concatenate([[0], np.cumsum(sizes.ravel())])
    if len(clips):
        offsets[:, :-1] = flat[:-1].reshape(len(clips), shape[0])
        offsets[:, -1] = flat[1:].reshape(len(clips), shape[0])[:, -1]
    data = b"".join(b for clip in clips for b in clip)
    return {
        "frames": np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8),
        "offsets": offsets,
        "encoding": np.array([store]),
        "clip_shape": np.array(shape, np.int64),
    }


def write_shard(path: str | Path, arrays: dict) -> Path:
    """Atomically write a shard (temporary file in the same folder + rename).

    ``arrays`` holds the members; instead of ``clips`` it may hold ``encoded``:
    (per-clip lists of encoded frames, clip shape (T, S, S, 3), store)."""
    path = Path(path)
    arrays = dict(arrays)
    if "encoded" in arrays:
        arrays.update(_encoded_members(arrays.pop("encoded")))
    encoded = "clips" not in arrays and "offsets" in arrays
    frames = ("offsets",) if encoded else ("clips",)  # the member with one row per clip
    members = (*frames, *MEMBERS[1:], *(m for m in OPTIONAL_MEMBERS if m in arrays))
    missing = [m for m in members if m not in arrays]
    if missing:
        raise ValueError(f"shard {path}: missing member(s) {', '.join(missing)}")
    counts = {m: len(arrays[m]) for m in members}
    if len(set(counts.values())) != 1:
        raise ValueError(f"shard {path}: members disagree on clip count: {counts}")
    if encoded:
        members += tuple(m for m in ENCODED_MEMBERS if m != "offsets")
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
                names = set(zf.namelist())
                encoded = "clips.npy" not in names and "frames.npy" in names
                wanted = [m for m in MEMBERS if not (encoded and m == "clips")]
                if encoded:
                    wanted += ENCODED_MEMBERS
                arrays = {m: _member_memmap(self.path, zf, m) for m in wanted}
                for m in OPTIONAL_MEMBERS:
                    if f"{m}.npy" in names:
                        arrays[m] = _member_memmap(self.path, zf, m)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"{self.path}: not a valid shard ({exc})") from exc
        if encoded:
            self.store = str(np.asarray(arrays["encoding"])[0])
            self.clips = EncodedClips(
                arrays["frames"],
                np.asarray(arrays["offsets"]),
                tuple(int(v) for v in np.asarray(arrays["clip_shape"])),
                self.store,
            )
        else:
            self.store = "raw"
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

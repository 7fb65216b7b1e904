"""Torch datasets over aligned-clip shards."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from istvt.data.manifest.common import select_videos
from istvt.data.shards import ShardReader

#: Xception's input normalisation: [0, 255] -> [-1, 1].
MEAN, STD = 0.5, 0.5


def to_tensor(clip: np.ndarray) -> torch.Tensor:
    """(T, S, S, 3) uint8 RGB -> (T, 3, S, S) float32 normalised to [-1, 1]."""
    return normalize_clips(to_uint8_tensor(clip))


def to_uint8_tensor(clip: np.ndarray) -> torch.Tensor:
    """(T, S, S, 3) uint8 RGB -> (T, 3, S, S) uint8 (a quarter of the float bytes)."""
    return torch.from_numpy(np.array(clip)).permute(0, 3, 1, 2)  # copy: shards are read-only


def model_input(x: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """A loader batch on ``device``, ready for the model: uint8 clips (a dataset with
    ``normalize=False``) are normalised there, float ones pass as they are."""
    x = x.to(device, non_blocking=True)
    return normalize_clips(x) if x.dtype == torch.uint8 else x


def normalize_clips(x: torch.Tensor) -> torch.Tensor:
    """uint8 clips (any leading dimensions, channels before pixels) -> float32 in
    [-1, 1]; the same numbers whether run in a loader worker or on the device."""
    return (x.float() / 255.0 - MEAN) / STD


class ClipDataset(Dataset):
    """Clips of the given shards, optionally restricted to a set of video ids.

    Items are ``(clip, label, index)``: clip (T, 3, S, S) float32 in [-1, 1], label
    float32 (1 = fake), index into :attr:`video_ids` / :attr:`starts`.
    ``transform(clip, key)`` (e.g. a robustness perturbation) maps the (T, S, S, 3)
    uint8 clip before normalisation; ``key`` is ``"<video id>:<start>"``.

    Training augmentation draws from a generator seeded by ``(seed, epoch, index)``
    (:meth:`set_epoch`), never from a global or per-worker stream: a clip gets the same
    augmentation whatever the number of loader workers or training processes, and a new
    one every epoch. ``hflip`` mirrors a clip with probability 0.5, the same way for all
    of its frames; ``augment(clip, rng)`` maps the uint8 clip after ``transform``.

    With ``normalize=False`` clips come out as uint8 (T, 3, S, S) and the consumer
    applies :func:`normalize_clips` on the device: training does, so that loader
    workers send a quarter of the bytes and spend no time on float conversion.
    """

    def __init__(
        self,
        shards: Iterable[str | Path],
        video_ids: Iterable[str] | None = None,
        hflip: bool = False,
        transform: Callable[[np.ndarray, str], np.ndarray] | None = None,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        seed: int = 0,
        normalize: bool = True,
    ) -> None:
        keep = set(video_ids) if video_ids is not None else None
        self.normalize = normalize
        self.readers = [ShardReader(p) for p in shards]
        index = []
        for r, reader in enumerate(self.readers):
            for i, vid in enumerate(reader.video_ids):
                if keep is None or vid in keep:
                    index.append((r, i))
        self.index = index
        self.hflip = hflip
        self.transform = transform
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.video_ids = [str(self.readers[r].video_ids[i]) for r, i in index]
        self.labels = np.array([self.readers[r].labels[i] for r, i in index], dtype=np.int64)
        self.starts = np.array([self.readers[r].starts[i] for r, i in index], dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's augmentations (call before creating the epoch's loader)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def raw_clip(self, k: int) -> np.ndarray:
        """(T, S, S, 3) uint8 copy of clip ``k`` as stored (no transform, no flip)."""
        r, i = self.index[k]
        return self.readers[r].clip(i)

    def boxes(self, k: int) -> np.ndarray | None:
        """(T, 3) crop geometry (centre x, y, side) of clip ``k``; None for shards
        written without it."""
        r, i = self.index[k]
        boxes = self.readers[r].boxes
        return None if boxes is None else np.array(boxes[i])

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        r, i = self.index[k]
        clip = self.readers[r].clips[i]
        if self.transform is not None:
            clip = self.transform(np.array(clip), f"{self.video_ids[k]}:{self.starts[k]}")
        if self.hflip or self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, k])
            if self.augment is not None:
                clip = self.augment(np.array(clip), rng)
            if self.hflip and rng.random() < 0.5:
                clip = clip[:, :, ::-1]
        x = to_tensor(clip) if self.normalize else to_uint8_tensor(clip)
        return x, torch.tensor(float(self.labels[k])), k


def shard_paths(faces_dir: str | Path) -> list[Path]:
    """The shards of a preprocessed data set, in order."""
    faces_dir = Path(faces_dir)
    paths = sorted(faces_dir.glob("shard-*.npz"), key=lambda p: int(p.stem.split("-")[1]))
    if not paths:
        raise FileNotFoundError(f"{faces_dir}: no shard-*.npz files; run preprocessing first")
    return paths


def split_dataset(
    manifest: pd.DataFrame,
    faces_dir: str | Path,
    split: str,
    methods: Iterable[str] | None = None,
    hflip: bool = False,
    transform=None,
    augment=None,
    seed: int = 0,
    normalize: bool = True,
) -> tuple[ClipDataset, pd.DataFrame]:
    """Clips of one split (restricted to ``methods``) and the split's manifest rows."""
    rows = select_videos(manifest, split, methods)
    dataset = ClipDataset(
        shard_paths(faces_dir),
        rows.video_id,
        hflip=hflip,
        transform=transform,
        augment=augment,
        seed=seed,
        normalize=normalize,
    )
    return dataset, rows

"""Scoring clips with a model: the one path that validation during training,
evaluation, ``istvt infer`` and interpretation all take.

Precision is a user's choice (``--precision`` of ``istvt infer`` / ``istvt evaluate``,
``evaluate.precision`` in the config):

* ``fp32``: the reference;
* ``bf16``: bf16 autocast (GPUs; CPUs with AVX512-BF16 or AMX compute it natively,
  elsewhere oneDNN emulates it and it runs several times slower than fp32);
* ``fp16``: fp16 autocast, GPUs only;
* ``int8``: dynamic int8 quantisation of the transformer's linear layers (weights
  int8, activations quantised per batch), CPUs only; the classifier head stays fp32;
* ``hardware``: chosen by what the device *is*, never by a timing: bf16 on GPUs that
  compute it, fp32 on every CPU and older GPU (:func:`hardware_precision`). The
  workflow scores every number that enters a table this way unless the config names a
  path (``evaluate.precision``), so one checkpoint gets one score on any CPU;
* ``auto`` (``istvt infer``, never the workflow): bf16 on a GPU; on a CPU the fastest of
  fp32, bf16 (where native) and int8, **measured** on the model itself
  (:func:`measure_paths`, one batch per path) and cached per machine, torch version and
  architecture, so the measurement runs once.
  A path must beat fp32 by :data:`AUTO_MARGIN` to be chosen, so timing noise never
  picks a slower one.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from istvt import distributed
from istvt.config import TRAIN_PRECISIONS
from istvt.metrics import point_metrics, video_scores

log = logging.getLogger(__name__)

#: evaluation precisions: the training ones (autocast dtypes), int8 and hardware
PRECISIONS = (*TRAIN_PRECISIONS, "int8", "hardware")
#: ``auto`` takes a lower precision only when it is at least this much faster than fp32.
AUTO_MARGIN = 1.1
#: precision name -> autocast dtype (fp32 and int8 run without autocast)
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """Does this CPU compute bf16 in hardware (AVX512-BF16 or AMX)? Without it, oneDNN
    emulates bf16 and is slower than fp32 (7x on an AVX2-only CPU, model issue notes)."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            return True
    return False


def hardware_precision(device: torch.device | str) -> str:
    """The scoring path a device's kind decides: bf16 on a GPU that computes it, fp32
    elsewhere. CPUs score in fp32 even with native bf16: it is the reference every CPU
    reproduces, and bf16 autocast is no faster for inference on the demo models
    (``benchmarks/precision_paths.py``)."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def int8_available() -> bool:
    """Dynamic int8 linear layers need a quantised CPU engine (x86/fbgemm, onednn, qnnpack)."""
    return torch.backends.quantized.engine != "none"


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a training run (None: fp32). ``auto``: bf16 on GPUs that have
    it (fp16 on older ones) and on CPUs with native bf16 -- a demo-size training step
    runs 2.5x faster in bf16 + NHWC than fp32 NCHW on one AMX core
    (benchmarks/demo_step.py) -- fp32 on other CPUs."""
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f"train.precision {precision!r}: use one of {', '.join(TRAIN_PRECISIONS)}")
    if precision == "auto":
        if device.type != "cuda":
            return torch.bfloat16 if cpu_has_native_bf16() else None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs a GPU; use bf16 or fp32 on a CPU")
    return AUTOCAST.get(precision)


@dataclass
class Scorer:
    """A model ready to score clips on ``device`` along one precision path."""

    model: torch.nn.Module
    device: torch.device
    precision: str  # the path taken: fp32, bf16, fp16 or int8

    def autocast(self):
        dtype = AUTOCAST.get(self.precision)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Fake logits (B,) in fp32 of clips (B, T, 3, H, W), normalised float input."""
        with self.autocast():
            return self.model(frames.to(self.device, non_blocking=True)).float()

    def probabilities(self, frames: torch.Tensor) -> np.ndarray:
        return torch.sigmoid(self.logits(frames)).cpu().numpy().astype(np.float64)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` whose linear layers (not the classifier head) are dynamic int8."""
    if not int8_available():
        raise ValueError("precision int8: this torch build has no quantised CPU engine")
    names = {
        name
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and name != "head"
    }
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model).eval(), names, dtype=torch.qint8)


def prepare(
    model: torch.nn.Module,
    precision: str = "auto",
    device: torch.device | str | None = None,
    batch_size: int = 16,
) -> Scorer:
    """Put ``model`` on ``device`` in eval mode along the ``precision`` path (``auto``:
    :func:`choose_precision`, measured; ``hardware``: :func:`hardware_precision`). The
    model itself is not changed by int8 (a copy is)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device).eval()
    if precision == "auto":
        precision = choose_precision(model, device, batch_size)
    elif precision == "hardware":
        precision = hardware_precision(device)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs a GPU; use bf16, int8 or fp32 on a CPU")
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError("precision int8 (dynamic quantisation) runs on CPUs only")
        return Scorer(quantize_int8(model), device, "int8")
    return Scorer(model, device, precision)


# ---------------------------------------------------------------------------- auto


def cpu_description() -> dict:
    """CPU model, the SIMD / matrix flags that decide the fast path, and thread count."""
    flags, name = [], platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and ":" in line:
                have = set(line.split(":", 1)[1].split())
                flags = sorted(f for f in have if f.startswith(("avx", "amx", "fma")))
                break
    return {"name": name, "flags": flags, "threads": torch.get_num_threads()}


def cache_file() -> Path:
    """Where measured choices are kept: $ISTVT_CACHE, else $XDG_CACHE_HOME/istvt, else
    ~/.cache/istvt."""
    root = os.environ.get("ISTVT_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "istvt"
    )
    return Path(root) / "precision.json"


def _cache_key(model: torch.nn.Module, device: torch.device, batch_size: int) -> str:
    cfg = getattr(model, "cfg", None)
    arch = cfg.architecture() if cfg is not None and hasattr(cfg, "architecture") else {}
    blob = json.dumps(
        [cpu_description(), torch.__version__, str(device), arch, batch_size], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def candidate_paths(device: torch.device) -> list[str]:
    if device.type == "cuda":
        return ["fp32", "bf16"]
    paths = ["fp32"]
    if cpu_has_native_bf16():
        paths.append("bf16")  # emulated bf16 is several times slower: not a candidate
    if int8_available():
        paths.append("int8")
    return paths


def measure_paths(
    model: torch.nn.Module,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
    paths: list[str] | None = None,
    repeats: int = 2,
) -> dict[str, float]:
    """Seconds per clip of one forward batch along each path (best of ``repeats`` after
    a warm-up call), on random input of the model's clip shape."""
    device = torch.device(device)
    cfg = model.cfg
    batch = max(1, min(batch_size, 4))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(
        batch, cfg.sequence_length, 3, cfg.image_size, cfg.image_size, generator=gen
    ).to(device)
    out = {}
    for path in paths or candidate_paths(device):
        scorer = prepare(model, path, device)
        scorer.logits(x)  # warm-up: kernel selection, weight packing
        best = float("inf")
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            scorer.logits(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        out[path] = best / batch
    return out


def pick(timings: dict[str, float], margin: float = AUTO_MARGIN) -> str:
    """fp32 unless another path is at least ``margin`` times faster; then the fastest."""
    fastest = min(timings, key=timings.get)
    if fastest != "fp32" and timings["fp32"] >= margin * timings[fastest]:
        return fastest
    return "fp32"


def choose_precision(
    model: torch.nn.Module, device: torch.device | str, batch_size: int = 16, cache: bool = True
) -> str:
    """``auto``: bf16 (fp16 without bf16) on a GPU; on a CPU the path measured fastest for
    this model, remembered in :func:`cache_file` (``cache=False``: measured afresh and
    not stored, as the benchmarks do)."""
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type != "cpu" or not hasattr(model, "cfg"):
        return "fp32"
    if not cache:
        return pick(measure_paths(model, device, batch_size))
    key, path = _cache_key(model, device, batch_size), cache_file()
    stored = {}
    with contextlib.suppress(OSError, ValueError):
        stored = json.loads(path.read_text())
    if key in stored:
        return stored[key]["choice"]
    timings = measure_paths(model, device, batch_size)
    choice = pick(timings)
    log.info(
        "precision auto: %s (measured ms/clip: %s; cached in %s)",
        choice,
        ", ".join(f"{k} {1000 * v:.2f}" for k, v in timings.items()),
        path,
    )
    with contextlib.suppress(OSError):  # a read-only home only costs a re-measurement
        path.parent.mkdir(parents=True, exist_ok=True)
        stored[key] = {"choice": choice, "seconds_per_clip": timings, **cpu_description()}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stored, indent=1))
        tmp.replace(path)
    return choice


# ---------------------------------------------------------------------------- datasets


def predict(
    model: torch.nn.Module | Scorer,
    dataset,
    batch_size: int = 16,
    device: torch.device | str | None = None,
    precision: str = "auto",
) -> np.ndarray:
    """Fake probability of every clip of ``dataset`` (in dataset order).

    ``model`` is a module (prepared along ``precision`` here) or a :class:`Scorer`.
    Inside a process group every rank scores its share of the clips and all ranks
    receive all scores.
    """
    scorer = model if isinstance(model, Scorer) else prepare(model, precision, device, batch_size)
    world = distributed.current()
    sampler = (
        DistributedSampler(dataset, world.size, world.rank, shuffle=False)
        if world.distributed
        else None
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        sampler=sampler,
        pin_memory=scorer.device.type == "cuda",
    )
    indices, scores = [], []
    for x, _, idx in loader:
        scores.append(scorer.probabilities(x))
        indices.append(idx.numpy())
    out = np.zeros(len(dataset), dtype=np.float64)
    if indices:
        mine = (np.concatenate(indices), np.concatenate(scores))
    else:
        mine = (np.zeros(0, np.int64), np.zeros(0))
    for idx, values in distributed.gather(mine):
        out[idx] = values
    return out


def evaluate_split(
    model: torch.nn.Module | Scorer,
    dataset,
    batch_size: int,
    device=None,
    precision: str = "auto",
) -> dict:
    """Loss and clip/video accuracy and AUC of a split (validation during training).
    AUC is NaN where the split holds one class only."""
    import pandas as pd

    scores = predict(model, dataset, batch_size, device, precision)
    labels = dataset.labels.astype(float)
    eps = 1e-7
    loss = float(-np.mean(labels * np.log(scores + eps) + (1 - labels) * np.log(1 - scores + eps)))
    clips = pd.DataFrame({"video_id": dataset.video_ids, "label": dataset.labels, "score": scores})
    videos = video_scores(clips)
    vm = point_metrics(videos.label.to_numpy(), videos.score.to_numpy())
    return {
        "val_loss": loss,
        "val_clip_acc": float(((scores > 0.5) == labels).mean()),
        "val_clip_auc": point_metrics(labels, scores)["auc"],
        "val_video_acc": vm["acc"],
        "val_video_auc": vm["auc"],
    }

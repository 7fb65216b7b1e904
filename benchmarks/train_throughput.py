"""Does the input pipeline keep the model busy? Loader alone vs model step alone, clips/s.

At the paper's size (T=6 clips of 300x300 faces) it writes synthetic shards in the
training format to a temporary folder, then measures in one process:

* ``loader``: :class:`istvt.data.dataset.ClipDataset` with the training augmentation
  (horizontal flip and the paper's random dropout, so the heaviest case) through a
  ``DataLoader`` for each ``--workers`` count: pinned memory and ``prefetch_factor``
  batches ahead on CUDA, including the copy to the device. The shards sit in the page
  cache after writing, so this measures decoding, augmentation and copies, not the
  disk (cold reads are the file system's business);
* ``step``: one optimisation step of the model (forward, backward, SGD) on a batch
  already on the device, with the precision training uses (bf16 autocast on GPUs);
* ``loop``: :func:`istvt.train.train`'s own loader settings and step together for a
  few steps, with the best worker count: the rate training actually gets.

The loader/step ratio says whether the GPU waits for data (< 1) or not (>= 1).

    python benchmarks/train_throughput.py                              # CPU, small batch
    python benchmarks/train_throughput.py --device cuda --batch 32 --workers 0 4 8 12
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_utils import emit  # benchmarks/bench_utils.py
from torch.utils.data import DataLoader

from istvt.config import ModelConfig
from istvt.data.dataset import ClipDataset
from istvt.data.shards import write_shard
from istvt.model import ISTVT
from istvt.train import TrainConfig, dropout_augmentation, resolve_precision

SIZES = {
    "paper": ModelConfig(),
    "small": ModelConfig(
        sequence_length=6, num_layers=2, num_heads=4, dim_head=32, image_size=128, embed_dim=128
    ),
}


def write_synthetic_shards(root: Path, cfg: ModelConfig, clips: int, per_shard: int = 64) -> list:
    """Random uint8 face clips in the shard format (content is irrelevant to speed)."""
    rng = np.random.default_rng(0)
    t, s = cfg.sequence_length, cfg.image_size
    paths = []
    for k, start in enumerate(range(0, clips, per_shard)):
        n = min(per_shard, clips - start)
        path = root / f"shard-{k}.npz"
        write_shard(
            path,
            {
                "clips": rng.integers(0, 256, (n, t, s, s, 3), dtype=np.uint8),
                "landmarks": np.zeros((n, t, 68, 2), np.float32),
                "video_ids": np.array([f"v{start + i}" for i in range(n)]),
                "labels": (np.arange(n) % 2).astype(np.int8),
                "starts": np.zeros(n, np.int32),
            },
        )
        paths.append(path)
    return paths


def loader_for(dataset, batch: int, workers: int, device: torch.device, prefetch: int):
    options = {"num_workers": workers, "pin_memory": device.type == "cuda"}
    if workers:
        options["prefetch_factor"] = prefetch
    return DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, **options)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def loader_rate(dataset, batch, workers, device, prefetch, batches) -> tuple[float, float]:
    """(clips/s after the first batch, seconds to the first batch)."""
    start = time.perf_counter()
    it = iter(loader_for(dataset, batch, workers, device, prefetch))
    x, _, _ = next(it)
    x.to(device, non_blocking=True)
    sync(device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            x, _, _ = next(it)
        except StopIteration:
            break
        x.to(device, non_blocking=True)
        n += len(x)
    sync(device)
    return n / (time.perf_counter() - start), first


def make_step(cfg: ModelConfig, device: torch.device, precision: str, compile_model: bool):
    torch.manual_seed(0)
    model = ISTVT(cfg).to(device).train()
    if device.type == "cuda":
        model.set_channels_last(True)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    dtype = resolve_precision(precision, device)
    net = torch.compile(model) if compile_model else model

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = net(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step, dtype


def step_rate(step, cfg: ModelConfig, batch: int, device: torch.device, steps: int) -> float:
    x = torch.randn(batch, cfg.sequence_length, 3, cfg.image_size, cfg.image_size, device=device)
    y = (torch.arange(batch, device=device) % 2).float()
    step(x, y)  # warm-up (and compilation)
    step(x, y)
    sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(x, y)
        sync(device)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def loop_rate(step, dataset, batch, workers, device, prefetch, steps) -> float:
    """Loader and step together, as in training (first batch and warm-up excluded)."""
    it = iter(loader_for(dataset, batch, workers, device, prefetch))
    done = 0
    for k in range(steps + 2):
        if k == 2:  # two warm-up steps
            sync(device)
            start = time.perf_counter()
        try:
            x, y, _ = next(it)
        except StopIteration:
            break
        step(x.to(device, non_blocking=True), y.to(device, non_blocking=True))
        done += len(x) if k >= 2 else 0
    sync(device)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--size", default="paper", choices=SIZES)
    parser.add_argument("--batch", type=int, help="clips per step (default 32 GPU, 2 CPU)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    parser.add_argument("--prefetch", type=int, default=4, help="batches per worker ahead")
    parser.add_argument("--batches", type=int, default=8, help="timed loader batches")
    parser.add_argument("--steps", type=int, default=5, help="timed model steps")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--out", help="write the Markdown table to this file too")
    args = parser.parse_args()

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    cfg = SIZES[args.size]
    batch = args.batch or (32 if device.type == "cuda" else 2)
    clips = max(batch * (args.batches + 2), 64)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [
        f"device: {name}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads; "
        f"size {args.size} (T={cfg.sequence_length}, {cfg.image_size}px); batch {batch}; "
        f"{clips} synthetic clips",
        "",
        "| measured | workers | clips/s | first batch s | vs model step |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        shards = write_synthetic_shards(Path(tmp), cfg, clips)
        augment = dropout_augmentation(TrainConfig(dropout_regions=40, dropout_probability=0.5))
        dataset = ClipDataset(shards, hflip=True, augment=augment)
        step, dtype = make_step(cfg, device, args.precision, args.compile)
        step_cps = step_rate(step, cfg, batch, device, args.steps)
        print(f"model step: {step_cps:.3g} clips/s ({dtype or 'fp32'})", flush=True)
        best = (0.0, 0)
        for workers in args.workers:
            cps, first = loader_rate(dataset, batch, workers, device, args.prefetch, args.batches)
            print(f"loader, {workers} workers: {cps:.3g} clips/s", flush=True)
            lines.append(
                f"| loader | {workers} | {cps:.3g} | {first:.2f} | {cps / step_cps:.2f}x |"
            )
            best = max(best, (cps, workers))
        lines.append(
            f"| model step ({dtype or 'fp32'}{', compiled' if args.compile else ''}) | - | "
            f"{step_cps:.3g} | - | 1.00x |"
        )
        loop_cps = loop_rate(
            step, dataset, batch, best[1], device, args.prefetch, min(args.steps, args.batches)
        )
        lines.append(
            f"| training loop (loader + step) | {best[1]} | {loop_cps:.3g} | - | "
            f"{loop_cps / step_cps:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    emit(text, args.out)


if __name__ == "__main__":
    main()

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

``--store raw webp png`` measures the loader once per shard store (uncompressed and
memory-mapped, or lossless images decoded in the workers) on the same clips, and
prints what each store costs on disk per clip and per FF++ video under the paper's
sampling (45 clips of 6 frames). Compressed sizes depend on the pixels: ``--video``
aligns the clips of a real video (the pipeline's own face extraction); the default
films the embedded demo's faces; ``--content random`` is noise (incompressible: the
worst case for a store, the old default of this script).

    python benchmarks/train_throughput.py                              # CPU, small batch
    python benchmarks/train_throughput.py --device cuda --batch 32 --workers 0 4 8 12
    python benchmarks/train_throughput.py --steps 0 --store raw webp --workers 0 2 \
        --video FaceForensics++/original_sequences/youtube/c23/videos/634.mp4
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
from bench_utils import cpu_line, emit  # benchmarks/bench_utils.py
from torch.utils.data import DataLoader

from istvt.config import ModelConfig
from istvt.data.dataset import ClipDataset, model_input
from istvt.data.shards import encode_clip, write_shard
from istvt.inference import resolve_precision
from istvt.model import ISTVT
from istvt.train import TrainConfig, dropout_augmentation

SIZES = {
    "paper": ModelConfig(),
    "small": ModelConfig(
        sequence_length=6, num_layers=2, num_heads=4, dim_head=32, image_size=128, embed_dim=128
    ),
}


def source_clips(cfg: ModelConfig, content: str, video: str | None, n: int = 16) -> np.ndarray:
    """(n, T, S, S, 3) uint8 clips to fill the shards with (repeated as needed)."""
    t, s = cfg.sequence_length, cfg.image_size
    if video:
        from istvt.data.faces import FaceOptions
        from istvt.data.preprocess import PreprocessOptions, process_video

        options = PreprocessOptions(
            sequence_length=t, clips_per_video="all", faces=FaceOptions(image_size=s)
        )
        status, clips = process_video(video, options)
        if not clips:
            raise SystemExit(f"{video}: no clips ({status['status']}: {status['detail']})")
        return np.stack([c.frames for _, c in clips[:n]])
    if content == "random":
        return np.random.default_rng(0).integers(0, 256, (n, t, s, s, 3), dtype=np.uint8)
    from istvt.data.demo import film, make_identities

    people = make_identities(6, seed=0)
    rng = np.random.default_rng(0)
    return np.stack([film(people[k % 6], t, s, 25, rng).frames for k in range(n)])


def write_shards(
    root: Path, source: np.ndarray, clips: int, store: str, per_shard: int = 64
) -> list:
    """``clips`` clips (cycling through ``source``) in the training shard format."""
    t, s = source.shape[1], source.shape[2]
    encoded = [encode_clip(c, store) for c in source] if store != "raw" else None
    paths = []
    for k, start in enumerate(range(0, clips, per_shard)):
        n = min(per_shard, clips - start)
        pick = [(start + i) % len(source) for i in range(n)]
        frames = (
            {"clips": source[pick]}
            if store == "raw"
            else {"encoded": ([encoded[i] for i in pick], (t, s, s, 3), store)}
        )
        path = root / store / f"shard-{k}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_shard(
            path,
            {
                **frames,
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
    model_input(x, device)
    sync(device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            x, _, _ = next(it)
        except StopIteration:
            break
        model_input(x, device)
        n += len(x)
    sync(device)
    return n / (time.perf_counter() - start), first


def make_step(cfg: ModelConfig, device: torch.device, precision: str, compile_model: bool):
    torch.manual_seed(0)
    model = ISTVT(cfg).to(device).train()  # NHWC entry flow, as training uses
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
        step(model_input(x, device), y.to(device, non_blocking=True))
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
    parser.add_argument("--store", nargs="+", default=["raw"], choices=("raw", "webp", "png"))
    parser.add_argument("--content", default="demo", choices=("demo", "random"))
    parser.add_argument(
        "--output",
        nargs="+",
        default=["uint8"],
        choices=("uint8", "float"),
        help="what workers send: uint8 (training, normalised on the device) or float",
    )
    parser.add_argument("--video", help="fill the clips with the aligned faces of this video")
    parser.add_argument("--out", help="write the Markdown table to this file too")
    args = parser.parse_args()

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    cfg = SIZES[args.size]
    batch = args.batch or (32 if device.type == "cuda" else 2)
    clips = max(batch * (args.batches + 2), 64)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    source = source_clips(cfg, args.content, args.video)
    raw_clip = source[0].nbytes
    content = f"faces of {Path(args.video).name}" if args.video else f"{args.content} content"
    lines = [
        cpu_line(),
        f"device: {name}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads; "
        f"size {args.size} (T={cfg.sequence_length}, {cfg.image_size}px); batch {batch}; "
        f"{clips} clips of {content}",
        "",
        "| store | bytes per clip | per FF++ video (45 clips) | vs raw |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        shards = {}
        for store in args.store:
            shards[store] = write_shards(Path(tmp), source, clips, store)
            per_clip = sum(p.stat().st_size for p in shards[store]) / clips
            lines.append(
                f"| {store} | {per_clip / 1024:.0f} KiB | {45 * per_clip / 2**20:.1f} MiB | "
                f"{raw_clip / per_clip:.2f}x smaller |"
            )
        lines += [
            "",
            "| measured | store | workers | clips/s | first batch s | vs model step |",
            "|---|---|---|---|---|---|",
        ]
        augment = dropout_augmentation(TrainConfig(dropout_regions=40, dropout_probability=0.5))
        step_cps = None
        if args.steps:
            step, dtype = make_step(cfg, device, args.precision, args.compile)
            step_cps = step_rate(step, cfg, batch, device, args.steps)
            print(f"model step: {step_cps:.3g} clips/s ({dtype or 'fp32'})", flush=True)
        best = (0.0, 0, args.store[0])
        rates = {}
        for output in args.output:
            for store in args.store:
                dataset = ClipDataset(
                    shards[store], hflip=True, augment=augment, normalize=output == "float"
                )
                for workers in args.workers:
                    cps, first = loader_rate(
                        dataset, batch, workers, device, args.prefetch, args.batches
                    )
                    rates[output, store, workers] = cps
                    print(f"loader {output} {store}, {workers} workers: {cps:.3g} clips/s")
                    versus = f"{cps / step_cps:.2f}x" if step_cps else "-"
                    lines.append(
                        f"| loader ({output}) | {store} | {workers} | {cps:.3g} | {first:.2f} | "
                        f"{versus} |"
                    )
                    if output == args.output[0]:
                        best = max(best, (cps, workers, store))
        if step_cps:
            lines.append(
                f"| model step ({dtype or 'fp32'}{', compiled' if args.compile else ''}) | - | "
                f"- | {step_cps:.3g} | - | 1.00x |"
            )
            dataset = ClipDataset(
                shards[best[2]], hflip=True, augment=augment, normalize=args.output[0] == "float"
            )
            loop_cps = loop_rate(
                step, dataset, batch, best[1], device, args.prefetch, min(args.steps, args.batches)
            )
            lines.append(
                f"| training loop (loader + step) | {best[2]} | {best[1]} | {loop_cps:.3g} | - | "
                f"{loop_cps / step_cps:.2f}x |"
            )
        if ("float", "raw", args.workers[0]) in rates:
            lines += ["", "Loader rate against raw float clips (the previous loader):", ""]
            for (output, store, workers), cps in rates.items():
                if (output, store) != ("float", "raw"):
                    base = rates["float", "raw", workers]
                    lines.append(f"- {output} {store}, {workers} workers: {cps / base:.2f}x")
    text = "\n".join(lines) + "\n"
    emit(text, args.out)


if __name__ == "__main__":
    main()

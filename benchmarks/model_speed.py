"""Model speed: forward and forward+backward time per clip and peak memory.

For every attention variant at a small and at the paper's size, in one process, it
times three execution paths of the same weights:

* ``explicit``: fp32, explicit softmax(q k^T) v attention, contiguous (NCHW) entry flow
  -- how the authors' code computes it; the baseline of every ratio;
* ``sdpa``: fp32, ``F.scaled_dot_product_attention`` + channels-last entry flow;
* ``fast``: ``sdpa`` plus bf16 autocast where the hardware has native bf16 matrix
  units (CUDA; CPUs with AVX512-BF16 or AMX). Elsewhere bf16 is emulated and several
  times slower, so it is skipped unless ``--bf16`` asks for it.
* ``int8`` (CPU inference, ``--int8``): dynamic int8 quantisation of the linear layers,
  the low-precision route AVX2-only CPUs do have;
* ``compiled`` (``--compile``): ``fast`` under ``torch.compile``;
* ``ckpt`` (``--checkpointing``): ``fast`` with activation checkpointing of the
  transformer blocks (``train.activation_checkpointing``), for training memory.

On CUDA the ``fast`` and ``compiled`` paths allow only the fused SDPA kernels (flash,
memory-efficient); if neither accepts the model's shapes the run fails instead of
silently falling back to the unfused maths. Each row also gives clips/s and, on CUDA,
the achieved bf16 TFLOP/s as a fraction of the GPU's bf16 matrix peak: both the
datasheet's dense figure (``--peak-tflops``) and a GEMM measured in this run. FLOPs are
2 x the model's multiply-accumulates (conv, linear and attention products, counted on
the meta device); a training step is taken as 3 x a forward pass.

The logit difference of each low-precision path to fp32 is reported. Ratios are
printed against ``explicit`` and against the ``joint`` variant, all measured in this run.

    python benchmarks/model_speed.py                      # CPU (and CUDA if present)
    python benchmarks/model_speed.py --sizes small --repeats 5
    python benchmarks/model_speed.py --sizes paper --variants temporal_first joint --int8
    python benchmarks/model_speed.py --device cuda --sizes paper --batch 32 --compile
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from bench_utils import PeakMemory, cpu_line, emit, timed  # benchmarks/bench_utils.py

from istvt.config import ATTENTION_VARIANTS, SELF_SUBTRACT_VARIANTS, ModelConfig
from istvt.inference import choose_precision, cpu_has_native_bf16, prepare
from istvt.model import ISTVT
from istvt.model.flops import count_macs

#: Dense bf16 tensor-core peaks from the vendors' datasheets (TFLOP/s, no sparsity).
DATASHEET_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0}

SIZES = {
    "small": ModelConfig(
        sequence_length=6, num_layers=2, num_heads=4, dim_head=32, image_size=128, embed_dim=128
    ),
    "paper": ModelConfig(),
}


#: (size, variant) -> the path `precision: auto` chose in this run
AUTO: dict[tuple[str, str], str] = {}
#: inference paths -> the rows of this benchmark that time them
PATH_ROWS = {"fp32": "sdpa", "bf16": "fast", "int8": "int8"}


@dataclass
class Result:
    size: str
    variant: str
    path: str
    forward_ms: float
    train_ms: float | None
    forward_mib: float
    train_mib: float | None
    logit_diff: float
    flops: float = 0.0  # forward FLOPs per clip

    @property
    def forward_clips_s(self) -> float:
        return 1000 / self.forward_ms

    @property
    def train_clips_s(self) -> float | None:
        return None if self.train_ms is None else 1000 / self.train_ms


def gemm_gmacs(repeats: int = 5) -> float:
    """Measured fp32 matrix-multiply throughput, the ceiling of a GEMM-bound model."""
    a, w = torch.randn(2534, 728), torch.randn(2912, 728)
    a @ w.T
    start = time.perf_counter()
    for _ in range(repeats):
        a @ w.T
    return 2534 * 728 * 2912 * repeats / (time.perf_counter() - start) / 1e9


def gpu_bf16_tflops(device: torch.device, n: int = 8192, repeats: int = 10) -> float:
    """Measured bf16 matrix-product rate: the practical ceiling on this GPU."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def datasheet_peak(name: str) -> float | None:
    return next((v for k, v in DATASHEET_BF16_TFLOPS.items() if k in name), None)


def fused_sdpa_only(device: torch.device, path: str):
    """On CUDA the fast paths may use flash / memory-efficient SDPA kernels only."""
    import contextlib

    if device.type != "cuda" or path not in ("fast", "compiled", "ckpt"):
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION])


def configure(model: ISTVT, path: str) -> None:
    model.set_attention_impl("explicit" if path == "explicit" else "sdpa")
    model.set_channels_last(path != "explicit")
    model.set_activation_checkpointing(path == "ckpt")


def measure(cfg: ModelConfig, size: str, device: torch.device, args) -> list[Result]:
    torch.manual_seed(0)
    model = ISTVT(cfg).to(device)
    batch = args.batch
    x = torch.randn(batch, cfg.sequence_length, 3, cfg.image_size, cfg.image_size, device=device)
    y = torch.randint(0, 2, (batch,), device=device).float()
    bf16 = device.type == "cuda" or cpu_has_native_bf16() or args.bf16
    paths = ["explicit", "sdpa"] + (["fast"] if bf16 else [])
    if args.compile:
        paths.append("compiled")
    if args.checkpointing:
        paths.append("ckpt")
    cost = count_macs(cfg)
    flops = 2.0 * (cost.total + cost.attention)
    results = []
    reference = None
    # train steps update BatchNorm statistics: every path starts from the same weights
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    for path in paths:
        model.load_state_dict(initial)
        configure(model, path)
        low = path in ("fast", "compiled", "ckpt") and bf16
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=low)
        net = torch.compile(model) if path == "compiled" else model

        def forward(autocast=autocast, net=net, path=path):
            with torch.inference_mode(), autocast, fused_sdpa_only(device, path):
                return net(x)

        def train_step(autocast=autocast, net=net, path=path):
            model.zero_grad(set_to_none=True)
            with autocast, fused_sdpa_only(device, path):
                loss = F.binary_cross_entropy_with_logits(net(x).float(), y)
            loss.backward()

        model.eval()
        logits = forward().float()
        reference = logits if reference is None else reference
        with PeakMemory(device) as mem_f:
            fwd = timed(forward, device, args.repeats)
        train = train_mem = None
        if not args.no_train:
            model.train()
            with PeakMemory(device) as mem_t:
                train = timed(train_step, device, args.repeats)
            train_mem = mem_t.mib
            model.zero_grad(set_to_none=True)
        results.append(
            Result(
                size,
                cfg.attention,
                path,
                1000 * fwd / batch,
                None if train is None else 1000 * train / batch,
                mem_f.mib,
                train_mem,
                (logits - reference).abs().max().item(),
                flops,
            )
        )
        print(
            f"  {size:5s} {cfg.attention:18s} {path:8s} fwd {results[-1].forward_ms:9.2f} "
            f"ms/clip"
            + ("" if train is None else f"  fwd+bwd {results[-1].train_ms:9.2f} ms/clip"),
            flush=True,
        )
    if args.int8 and device.type == "cpu":
        model.load_state_dict(initial)
        model.eval()
        configure(model, "sdpa")
        scorer = prepare(model, "int8", device)  # istvt infer/evaluate --precision int8

        def qforward():
            return scorer.logits(x)

        logits = qforward()
        with PeakMemory(device) as mem_q:
            fwd = timed(qforward, device, args.repeats)
        results.append(
            Result(
                size,
                cfg.attention,
                "int8",
                1000 * fwd / batch,
                None,
                mem_q.mib,
                None,
                (logits - reference).abs().max().item(),
                flops,
            )
        )
        print(
            f"  {size:5s} {cfg.attention:18s} int8     fwd {results[-1].forward_ms:9.1f} ms/clip",
            flush=True,
        )
    if device.type == "cpu":
        model.load_state_dict(initial)
        configure(model, "sdpa")
        choice = choose_precision(model, device, batch, cache=False)  # measured afresh
        print(f"  {size:5s} {cfg.attention:18s} precision auto -> {choice}", flush=True)
        AUTO[(size, cfg.attention)] = choice
    return results


def report(results: list[Result], peaks: dict[str, float] | None = None) -> str:
    """Markdown table with ratios against `explicit` (same variant) and `joint` (same path).

    ``peaks`` (name -> bf16 TFLOP/s) adds the achieved TFLOP/s of forward and training
    as a fraction of each peak.
    """
    index = {(r.size, r.variant, r.path): r for r in results}
    peaks = peaks or {}
    extra = "".join(f" % of {name} (fwd / train) |" for name in peaks)
    lines = [
        "| size | variant | path | fwd ms/clip | fwd+bwd ms/clip | fwd clips/s | "
        "train clips/s | fwd peak MiB | "
        "train peak MiB | speed-up vs explicit (fwd / train) | vs joint (fwd / train) | "
        "max logit diff |" + (" TFLOP/s (fwd / train) |" + extra if peaks else ""),
        "|" + "---|" * (12 + (1 + len(peaks) if peaks else 0)),
    ]

    def ratio(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None else f"{b / a:.2f}x"

    def fmt(v: float | None, spec: str = ".1f") -> str:
        return "-" if v is None else format(v, spec)

    for r in results:
        base = index.get((r.size, r.variant, "explicit"))
        joint = index.get((r.size, "joint", r.path))
        lines.append(
            f"| {r.size} | {r.variant} | {r.path} | {fmt(r.forward_ms)} | {fmt(r.train_ms)} | "
            f"{fmt(r.forward_mib, '.0f')} | {fmt(r.train_mib, '.0f')} | "
            f"{ratio(r.forward_ms, base.forward_ms)} / {ratio(r.train_ms, base.train_ms)} | "
            f"{ratio(r.forward_ms, joint and joint.forward_ms)} / "
            f"{ratio(r.train_ms, joint and joint.train_ms)} | {r.logit_diff:.2e} |"
        )
        lines[-1] = lines[-1].replace(
            f"| {fmt(r.train_ms)} | ",
            f"| {fmt(r.train_ms)} | {fmt(r.forward_clips_s)} | {fmt(r.train_clips_s)} | ",
            1,
        )
        if peaks:
            fwd_tf = r.flops * r.forward_clips_s / 1e12
            train_tf = None if r.train_ms is None else 3 * r.flops * r.train_clips_s / 1e12
            cells = [f"{fwd_tf:.1f} / {fmt(train_tf)}"]
            for peak in peaks.values():
                cells.append(
                    f"{100 * fwd_tf / peak:.1f} / "
                    + ("-" if train_tf is None else f"{100 * train_tf / peak:.1f}")
                )
            lines[-1] += " " + " | ".join(cells) + " |"
    return "\n".join(lines)


def auto_report(results: list[Result]) -> str:
    """The path ``--precision auto`` took per model, and its forward speed against fp32
    (the ``sdpa`` row) as timed by this benchmark: auto must never be the slower."""
    index = {(r.size, r.variant, r.path): r for r in results}
    lines = [
        "| size | variant | auto picks | fwd ms/clip (auto path) | fp32 fwd ms/clip | "
        "auto vs fp32 |",
        "|---|---|---|---|---|---|",
    ]
    for (size, variant), choice in AUTO.items():
        fp32 = index[(size, variant, "sdpa")]
        row = index.get((size, variant, PATH_ROWS[choice]))
        if row is None:
            untimed = f"| {size} | {variant} | {choice} | (not timed) |"
            lines.append(f"{untimed} {fp32.forward_ms:.1f} | - |")
            continue
        ratio = fp32.forward_ms / row.forward_ms
        verdict = "ok" if ratio >= 1.0 else "SLOWER than fp32"
        lines.append(
            f"| {size} | {variant} | {choice} | {row.forward_ms:.1f} | {fp32.forward_ms:.1f} | "
            f"{ratio:.2f}x ({verdict}) |"
        )
    return "`precision: auto` (istvt.inference, measured afresh here):\n\n" + "\n".join(lines)


def demo_auc(run: Path, paths=("fp32", "bf16", "int8")) -> str:
    """Video AUC of each trained experiment of a finished run on its own test set, along
    every precision path, and the largest clip-probability difference to fp32."""
    import yaml

    from istvt.checkpoint import load_checkpoint
    from istvt.data.dataset import split_dataset
    from istvt.data.manifest import read_manifest
    from istvt.inference import predict
    from istvt.metrics import point_metrics, video_scores

    config = yaml.safe_load((run / "config" / "config.yaml").read_text())
    lines = [
        "| experiment | test videos | "
        + " | ".join(f"{p} AUC %" for p in paths)
        + " | "
        + " | ".join(f"{p} dAUC | {p} max dp" for p in paths[1:])
        + " |",
        "|" + "---|" * (2 + len(paths) + 2 * (len(paths) - 1)),
    ]
    for name, experiment in config["experiments"].items():
        checkpoint = run / "results" / "models" / name / "best_model.pth"
        dataset = experiment["dataset"]
        if not checkpoint.is_file():
            continue
        manifest = read_manifest(run / "results" / "manifests" / f"{dataset}.csv")
        clips, rows = split_dataset(manifest, run / "results" / "faces" / dataset, "test")
        model = load_checkpoint(checkpoint, map_location="cpu")
        scores, auc = {}, {}
        for path in paths:
            scores[path] = predict(model, clips, 16, "cpu", path)
            table = pd.DataFrame(
                {"video_id": clips.video_ids, "label": clips.labels, "score": scores[path]}
            )
            videos = video_scores(table)
            auc[path] = 100 * point_metrics(videos.label.to_numpy(), videos.score.to_numpy())["auc"]
        cells = [f"{auc[p]:.1f}" for p in paths]
        for p in paths[1:]:
            worst = abs(scores[p] - scores["fp32"]).max()
            cells += [f"{auc[p] - auc['fp32']:+.2f}", f"{worst:.4f}"]
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    return f"Demo test sets of {run} along each precision path:\n\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (both if CUDA)")
    parser.add_argument("--sizes", nargs="+", default=["small", "paper"], choices=SIZES)
    parser.add_argument(
        "--variants", nargs="+", default=list(ATTENTION_VARIANTS), choices=ATTENTION_VARIANTS
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls after warm-up (the median is reported)"
    )
    parser.add_argument("--batch", type=int, default=1, help="clips per call")
    parser.add_argument("--no-train", dest="no_train", action="store_true", help="forward only")
    parser.add_argument(
        "--int8", action="store_true", help="also time dynamic int8 linear layers (CPU inference)"
    )
    parser.add_argument(
        "--bf16", action="store_true", help="time the bf16 path even on CPUs without native bf16"
    )
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument(
        "--checkpointing",
        action="store_true",
        help="also time the fast path with activation checkpointing (train.activation_"
        "checkpointing: transformer blocks recomputed in the backward pass)",
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="the GPU's dense bf16 peak (default: from the datasheet for known GPUs)",
    )
    parser.add_argument(
        "--demo-run",
        help="a finished default run (the folder holding results/): video AUC of each "
        "experiment's in-dataset test set along every precision path, against fp32",
    )
    parser.add_argument("--out", help="write the Markdown table to this file too")
    args = parser.parse_args()

    if args.device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    header = [
        cpu_line(),
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} CPU threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native CPU bf16: {cpu_has_native_bf16()}",
    ]
    header.append(
        f"fp32 GEMM throughput (2534x728 @ 728x2912, the FFN's shape): "
        f"{gemm_gmacs():.1f} GMAC/s on CPU"
    )
    tables = []
    for dev in devices:
        device = torch.device(dev)
        peaks = {}
        if device.type == "cuda":
            name = torch.cuda.get_device_name(device)
            sheet = args.peak_tflops or datasheet_peak(name)
            measured = gpu_bf16_tflops(device)
            header.append(
                f"CUDA device: {name}; bf16 peak: datasheet {sheet or 'unknown'} TFLOP/s, "
                f"measured 8192^3 GEMM {measured:.0f} TFLOP/s"
            )
            if sheet:
                peaks["datasheet"] = sheet
            peaks["GEMM"] = measured
        print(f"== {dev}", flush=True)
        results = []
        for size in args.sizes:
            for variant in args.variants:
                cfg = SIZES[size].replace(
                    attention=variant, self_subtract=variant in SELF_SUBTRACT_VARIANTS
                )
                results += measure(cfg, size, device, args)
        tables.append(f"### {dev}\n\n{report(results, peaks)}")
        if device.type == "cpu" and AUTO:
            tables.append(auto_report(results))
    if args.demo_run:
        tables.append(demo_auc(Path(args.demo_run)))
    text = "\n".join(header) + "\n\n" + "\n\n".join(tables) + "\n"
    emit(text, args.out)


if __name__ == "__main__":
    main()

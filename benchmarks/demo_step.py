"""What a demo-size training step and inference batch cost on this CPU, per memory layout
of the entry flow (NCHW, the authors' layout; NHWC, ours), per attention path (sdpa:
``F.scaled_dot_product_attention``; explicit: softmax(q k^T) v, which CPU training in
bf16 takes) and per precision (fp32; bf16 autocast, which ``train.precision: auto``
picks where the CPU computes bf16 natively).

The model is the default config's (config/config.yaml, CPU-sized); one process, one
thread by default (the workflow trains two 1-thread jobs side by side on 2 cores);
every path is timed in the same process, ratios against NCHW fp32.

    python benchmarks/demo_step.py
    python benchmarks/demo_step.py --threads 2 --repeats 10 --out results/benchmarks/demo_step.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import cpu_line, emit  # noqa: E402

from istvt.config import ModelConfig  # noqa: E402
from istvt.inference import cpu_has_native_bf16, resolve_precision  # noqa: E402
from istvt.model import ISTVT  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(cfg: ModelConfig, layout: str, attention: str, dtype, args) -> dict:
    torch.manual_seed(0)
    model = ISTVT(cfg)
    model.set_channels_last(layout == "NHWC")
    model.set_attention_impl(attention)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    t, s = cfg.sequence_length, cfg.image_size
    x = torch.randn(args.train_batch, t, 3, s, s)
    y = torch.randint(0, 2, (args.train_batch,)).float()
    auto = torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None)

    def step():
        with auto:
            logits = model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    train_s = timed(step, args.repeats)
    xe = torch.randn(args.eval_batch, t, 3, s, s)
    model.eval()

    def infer():
        with torch.no_grad(), auto:
            return model(xe)

    eval_s = timed(infer, args.repeats)
    with torch.no_grad():
        ref = model.float()(xe)
        diff = float((infer().float() - ref).abs().max())
    return {
        "layout": layout,
        "attention": attention,
        "precision": "bf16" if dtype is not None else "fp32",
        "train clips/s": args.train_batch / train_s,
        "inference clips/s": args.eval_batch / eval_s,
        "max logit diff vs fp32": diff,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--eval-batch", type=int, default=16)
    parser.add_argument("--bf16", action="store_true", help="time bf16 even without native bf16")
    parser.add_argument("--out", help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    section = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["model"]
    cfg = ModelConfig.from_dict(section)
    native = cpu_has_native_bf16()
    dtypes = [None] + ([torch.bfloat16] if native or args.bf16 else [])
    paths = (("NCHW", "sdpa"), ("NHWC", "sdpa"), ("NHWC", "explicit"))
    rows = [measure(cfg, layout, attention, d, args) for d in dtypes for layout, attention in paths]
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["train vs NCHW fp32"] = table["train clips/s"] / base["train clips/s"]
    table["inference vs NCHW fp32"] = table["inference clips/s"] / base["inference clips/s"]
    auto = resolve_precision("auto", torch.device("cpu"))
    text = "\n".join(
        [
            cpu_line(),
            f"torch {torch.__version__}, {args.threads} thread(s); native bf16: {native}; "
            f"train.precision auto -> {'bf16' if auto is not None else 'fp32'}, NHWC, "
            f"{'explicit' if auto is not None else 'sdpa'} attention",
            f"model: config/config.yaml ({cfg.num_layers} blocks, {cfg.embed_dim}-d, "
            f"T={cfg.sequence_length}, {cfg.image_size}x{cfg.image_size}); training step "
            f"batch {args.train_batch} (AdamW), inference batch {args.eval_batch}; median of "
            f"{args.repeats}",
            "",
            table.to_markdown(index=False, floatfmt=".3g"),
        ]
    )
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

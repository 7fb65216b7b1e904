"""ISTVT-LRP cost per clip: relevance maps (``istvt.interpret.relevance.explain``) against
a plain forward pass of the same model, batch 1, median of ``--repeats`` after a warm-up.

    python benchmarks/lrp_speed.py --sizes small paper          # CPU
    python benchmarks/lrp_speed.py --device cuda --sizes paper  # GPU (benchmarks/gpu.sh)
"""

from __future__ import annotations

import argparse

import torch
from bench_utils import PeakMemory, cpu_line, emit, timed  # benchmarks/bench_utils.py

from istvt.config import ModelConfig
from istvt.interpret.relevance import explain
from istvt.model import ISTVT

SIZES = {
    "small": ModelConfig(
        sequence_length=6, num_layers=2, num_heads=4, dim_head=32, image_size=128, embed_dim=128
    ),
    "paper": ModelConfig(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", nargs="+", default=["paper"], choices=SIZES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="write the Markdown table to this file too")
    args = parser.parse_args()
    device = torch.device(args.device)
    lines = [
        cpu_line(),
        f"torch {torch.__version__}, device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
        + f", {torch.get_num_threads()} CPU threads; fp32, batch 1, median of {args.repeats}",
        "",
        "| size | forward ms/clip | ISTVT-LRP ms/clip | LRP / forward | LRP peak MiB |",
        "|---|---|---|---|---|",
    ]
    for size in args.sizes:
        torch.manual_seed(0)
        cfg = SIZES[size]
        model = ISTVT(cfg).to(device).eval()
        x = torch.randn(1, cfg.sequence_length, 3, cfg.image_size, cfg.image_size, device=device)

        def forward(model=model, x=x):
            with torch.no_grad():
                return model(x)

        fwd = timed(forward, device, args.repeats)
        with PeakMemory(device) as mem:
            lrp = timed(lambda model=model, x=x: explain(model, x, "lrp"), device, args.repeats)
        lines.append(
            f"| {size} | {1000 * fwd:.1f} | {1000 * lrp:.1f} | {lrp / fwd:.1f}x | {mem.mib:.0f} |"
        )
        print(lines[-1], flush=True)
    emit("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()

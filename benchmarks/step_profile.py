"""Where a demo-size training step's CPU time goes, operator by operator: PyTorch's
profiler over a few steps of the default config's model (bf16 autocast where the CPU
has native bf16, else fp32; NHWC entry flow), grouped by input shape.

    python benchmarks/step_profile.py [--attention sdpa|explicit] [--steps 5] [--rows 25]

One thread, batch 8 (the workflow's). Prints the CPU's flags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import cpu_line  # noqa: E402

from istvt.config import ModelConfig  # noqa: E402
from istvt.inference import resolve_precision  # noqa: E402
from istvt.model import ISTVT  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attention", choices=("sdpa", "explicit"), default="sdpa")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict(
        yaml.safe_load((REPO / "config" / "config.yaml").read_text())["model"]
    )
    model = ISTVT(cfg).train()
    model.set_attention_impl(args.attention)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    amp = resolve_precision("auto", torch.device("cpu"))
    x = torch.randn(8, cfg.sequence_length, 3, cfg.image_size, cfg.image_size)
    y = torch.randint(0, 2, (8,)).float()

    def step():
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(args.steps):
            step()
    print(f"# {cpu_line()}")
    print(f"# {args.attention} attention, {'bf16' if amp else 'fp32'}, {args.steps} steps")
    table = prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total",
        row_limit=args.rows,
        max_name_column_width=40,
        max_shapes_column_width=70,
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

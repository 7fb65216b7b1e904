"""Measure the rates ``istvt plan`` estimates costs from, on this machine, and print them
as an entry of ``istvt/rates.yaml`` (paste it under ``cpus:`` with this CPU's class).

One thread (the workflow runs CPU jobs at one thread each and packs them onto cores):

* training step (forward + backward + AdamW, batch 8) and inference (batch 16) ms per
  clip, for the default config's model and the paper's, on the path the workflow takes
  (bf16 autocast where the CPU has native bf16, else fp32);
* an ISTVT-LRP relevance map, ms per clip;
* face extraction, seconds per frame read: on a demo video at the default config's
  settings, and on the FF++ and DFDC sample videos beside the repository at the
  paper's (every 6-frame clip, 300 px), when they are there;
* bytes of the lossless stores (webp, png) against raw, on the extracted clips.

    python benchmarks/plan_rates.py [--repeats 2] [--skip-paper]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from bench_utils import cpu_line, timed  # benchmarks/bench_utils.py

from istvt.config import ModelConfig
from istvt.cost import cpu_class, cpu_flags
from istvt.interpret.relevance import explain
from istvt.model import ISTVT
from istvt.model.flops import count_macs

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "samples"


def model_rates(cfg: ModelConfig, repeats: int, bf16: bool) -> dict:
    torch.manual_seed(0)
    model = ISTVT(cfg).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    x8 = torch.randn(8, cfg.sequence_length, 3, cfg.image_size, cfg.image_size)
    y8 = torch.randint(0, 2, (8,)).float()
    x16 = torch.randn(16, cfg.sequence_length, 3, cfg.image_size, cfg.image_size)

    def step():
        with amp:
            logits = model(x8).float().view(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y8)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad(), amp:
            model(x16)

    cpu = torch.device("cpu")
    train = timed(step, cpu, repeats) / 8
    model.eval()
    fwd = timed(infer, cpu, repeats) / 16
    lrp = timed(lambda: explain(model, x16[:1], "lrp"), cpu, repeats)
    return {
        "gmacs": round(count_macs(cfg).total / 1e9, 3),
        "train_ms": round(1000 * train, 1),
        "infer_ms": round(1000 * fwd, 1),
        "lrp_ms": round(1000 * lrp, 1),
    }


def extraction_rate(paths: list[Path], image_size: int, cap: int | None) -> tuple[float, list]:
    """Seconds per frame read over ``paths``, and the clips extracted."""
    from istvt.data.faces import FaceOptions
    from istvt.data.preprocess import PreprocessOptions, process_video

    options = PreprocessOptions(
        sequence_length=6,
        clips_per_video="all",
        max_frames=cap,
        faces=FaceOptions(image_size=image_size),
    )
    frames, clips, t0 = 0, [], time.perf_counter()
    for p in paths:
        status, found = process_video(str(p), options)
        frames += min(status["frames"], cap or status["frames"])
        clips += [clip.frames for _, clip in found]
    return (time.perf_counter() - t0) / max(frames, 1), clips


def store_ratios(clips: list) -> dict:
    from istvt.data.shards import encode_clip

    raw = sum(np.asarray(c).nbytes for c in clips)
    out = {"raw": 1.0}
    for store in ("webp", "png"):
        encoded = sum(len(b) for c in clips for b in encode_clip(np.asarray(c), store))
        out[store] = round(encoded / raw, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-paper", action="store_true", help="demo-size model only")
    parser.add_argument("--skip-models", action="store_true", help="extraction and stores only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    flags = cpu_flags()
    bf16 = cpu_class(flags) in ("amx", "avx512_bf16")
    print(cpu_line(), f"-> class {cpu_class(flags)}; bf16 autocast: {bf16}", flush=True)
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["model"]
    models = []
    if not args.skip_models:
        models.append(
            {"model": "demo", **model_rates(ModelConfig.from_dict(demo), args.repeats, bf16)}
        )
        print(models[-1], flush=True)
    if not (args.skip_paper or args.skip_models):
        models.append({"model": "paper", **model_rates(ModelConfig(), args.repeats, bf16)})
        print(models[-1], flush=True)

    extraction, clips = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        from istvt.data.demo import DemoOptions, generate_demo

        generate_demo(tmp, DemoOptions(identities=6, frames=30), datasets=("celebdf",))
        videos = sorted(Path(tmp).rglob("*.mp4"))[:6]
        rate, demo_clips = extraction_rate(videos, demo["image_size"], None)
        extraction["demo"] = {"s_per_frame": round(rate, 4)}
    for key, folder, cap in (("ffpp", "FaceForensics++", 270), ("dfdc", "DFDC", None)):
        paths = sorted((SAMPLES / folder).rglob("*.mp4"))
        if paths:
            rate, found = extraction_rate(paths, 300, cap)
            extraction[key] = {"s_per_frame": round(rate, 4)}
            clips += found
        print(key, extraction.get(key, "no sample videos"), flush=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    entry = {
        cpu_class(flags): {
            "machine": cpu_line(),
            "command": "python benchmarks/plan_rates.py",
            "commit": commit,
            "torch": str(torch.__version__),
            "precision": "bf16" if bf16 else "fp32",
            "models": models,
        },
        "extraction": extraction,
        "store_ratio": store_ratios(clips or demo_clips),
    }
    print("\n" + yaml.safe_dump(entry, sort_keys=False))


if __name__ == "__main__":
    main()

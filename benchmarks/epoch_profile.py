"""Where one training epoch's CPU time goes: loading, the entry flow, the transformer
part, the backward pass, the optimiser step and validation, on a finished run's shards
with that run's config (the experiment's own model and recipe).

    python benchmarks/epoch_profile.py RUN celebdf [--batches 40] [--threads 1]

Each training step is timed in parts (forward of the entry flow, forward of the rest,
loss + backward, optimiser), loading as the time the loader takes to hand over a batch,
and a validation pass over ``--batches`` batches of the val split; the table scales the
parts to a whole epoch of the experiment's data (train clips / batch size steps) and to
the experiment's epochs. One process, ``--threads`` threads (the workflow trains with
``threads.train``). Prints the CPU's flags.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import cpu_line  # noqa: E402

from istvt.config import ModelConfig, TrainConfig  # noqa: E402
from istvt.data.dataset import model_input, split_dataset  # noqa: E402
from istvt.data.manifest import read_manifest  # noqa: E402
from istvt.inference import resolve_precision  # noqa: E402
from istvt.model import ISTVT  # noqa: E402
from istvt.train import make_optimizer, seed_everything, training_attention  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run's directory")
    parser.add_argument("experiment", help="an experiment of the run's config")
    parser.add_argument("--config", type=Path, help="default: RUN/config/config.yaml")
    parser.add_argument("--batches", type=int, default=40, help="training steps timed")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((args.config or args.run / "config" / "config.yaml").read_text())
    exp = config["experiments"][args.experiment]
    model_cfg = ModelConfig.from_dict({**config["model"], **exp.get("model", {})})
    cfg = TrainConfig.from_dict({**config["train"], **exp.get("train", {})})
    dataset = exp["dataset"]
    manifest = read_manifest(args.run / "results" / "manifests" / f"{dataset}.csv")
    faces = args.run / "results" / "faces" / dataset
    train_set, _ = split_dataset(manifest, faces, "train", hflip=cfg.hflip, normalize=False)
    val_set, _ = split_dataset(manifest, faces, "val")
    seed_everything(cfg.seed)
    device = torch.device("cpu")
    amp = resolve_precision(cfg.precision, device)
    model = ISTVT(model_cfg)
    model.set_attention_impl(training_attention(device, amp))
    opt = make_optimizer(model, cfg)
    autocast = torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None)
    parts = dict.fromkeys(("loading", "entry flow", "transformer", "backward", "optimiser"), 0.0)
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, num_workers=0)
    batches, clips = iter(loader), 0
    model.train()
    for step in range(args.batches + 2):  # two warm-up steps, not counted
        t0 = time.perf_counter()
        try:
            x, y, _ = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y, _ = next(batches)
        t1 = time.perf_counter()
        x = model_input(x, device)
        with autocast:
            b = x.shape[0]
            feats = model._entry_flow(x.flatten(0, 1))
            t2 = time.perf_counter()
            pooled = model.forward_tokens(model.tokens_from_features(feats, b))
            logits = model.head(model.head_norm(pooled)).squeeze(-1)
        t3 = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        if step >= 2:
            clips += b
            for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                parts[key] += dt
    model.eval()
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size, num_workers=0)
    t0, val_clips = time.perf_counter(), 0
    with torch.inference_mode(), autocast:
        for n, (x, _, _) in enumerate(val_loader):
            if n == args.batches:
                break
            model(model_input(x, device))
            val_clips += x.shape[0]
    val_per_clip = (time.perf_counter() - t0) / max(val_clips, 1)
    epoch_steps = -(-len(train_set) // cfg.batch_size)
    scale = len(train_set) / clips
    per_epoch = {k: v * scale for k, v in parts.items()}
    per_epoch["validation"] = val_per_clip * len(val_set)
    total = sum(per_epoch.values())
    epochs = cfg.epochs + cfg.entry_epochs
    print(f"# {cpu_line()}")
    print(
        f"# {args.experiment}: {len(train_set)} train clips ({epoch_steps} steps of "
        f"{cfg.batch_size}), {len(val_set)} val clips, {cfg.epochs} epochs"
        f"{f' + {cfg.entry_epochs} entry-flow epochs' if cfg.entry_epochs else ''}; "
        f"precision {str(amp).replace('torch.', '') if amp else 'fp32'}; "
        f"{args.threads} thread(s); {clips} clips timed"
    )
    print("| part | s per epoch | share % | s over the training |")
    print("|---|---|---|---|")
    for key, seconds in per_epoch.items():
        print(f"| {key} | {seconds:.1f} | {100 * seconds / total:.0f} | {seconds * epochs:.0f} |")
    print(f"| **all** | **{total:.1f}** | 100 | **{total * epochs:.0f}** |")


if __name__ == "__main__":
    main()

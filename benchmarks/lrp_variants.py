"""ISTVT-LRP's variants, one change at a time, on a finished run's *validation* clips.

For every trained demo model of a run, the faithfulness measures of
``istvt.interpret.faithfulness`` (pointing game and mass in the true manipulation
mask, deletion against random pixels) for the paper's ISTVT-LRP and each variant of
one ``interpret`` setting, beside the baselines, on the clips of the validation split
(the test split stays for the report). Prints one Markdown table per model and writes
them all to a CSV.

    python benchmarks/lrp_variants.py RUN_DIR [--experiments ffpp celebdf dfdc]
        [--split val] [--clips 48] [--out lrp_variants.csv]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pandas as pd
import torch
import yaml
from bench_utils import cpu_line  # benchmarks/bench_utils.py

from istvt.checkpoint import load_checkpoint
from istvt.data.dataset import split_dataset
from istvt.data.manifest import read_manifest
from istvt.interpret.faithfulness import FaithfulnessConfig, measure

#: (row label, interpret settings that differ from the default, methods measured)
VARIANTS = [
    ("ISTVT-LRP (default: Eq. 4-5)", {}, ["lrp", "rollout", "raw_attention", "gradcam"]),
    ("ISTVT-LRP, head fusion mean_then_clamp", {"fusion": "mean_then_clamp"}, ["lrp"]),
    ("ISTVT-LRP without Eq. 4's gradient", {"gradient": False}, ["lrp"]),
    ("the baselines with readout: grid", {"readout": "grid"}, ["rollout", "raw_attention"]),
]
COLUMNS = ["pointing_game", "pointing_gain", "mask_mass", "mass_gain", "deletion_gain"]


def run_variants(run: Path, experiment: str, split: str, clips: int) -> pd.DataFrame:
    config = yaml.safe_load((run / "config" / "config.yaml").read_text())
    dataset = config["experiments"][experiment]["dataset"]
    root = run / config["datasets"][dataset]["root"]
    manifest = read_manifest(run / "results" / "manifests" / f"{dataset}.csv")
    data, rows = split_dataset(manifest, run / "results" / "faces" / dataset, split)
    paths = dict(zip(rows.video_id, rows.path, strict=True))
    model = load_checkpoint(run / "results" / "models" / experiment / "best_model.pth").eval()
    out = []
    for label, settings, methods in VARIANTS:
        cfg = FaithfulnessConfig(
            methods=[*methods, "random"],
            fractions=[1, 2, 5, 10, 20, 30],
            max_clips=clips,
            **settings,
        )
        t0 = time.perf_counter()
        summary, _ = measure(model, data, cfg, paths, root)
        summary = summary[summary["map"] != "random"].assign(
            experiment=experiment, variant=label, seconds=time.perf_counter() - t0
        )
        out.append(summary)
    return pd.concat(out, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--experiments", nargs="+", default=["ffpp", "celebdf", "dfdc"])
    ap.add_argument("--split", default="val")
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--out", type=Path, default=Path("lrp_variants.csv"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    print(cpu_line())
    tables = []
    for experiment in args.experiments:
        table = run_variants(args.run, experiment, args.split, args.clips)
        tables.append(table)
        print(f"\n## {experiment}, {args.split} split, {int(table.clips.iloc[0])} clips\n")
        shown = table[["variant", "label", *COLUMNS]].round(1)
        print(shown.to_markdown(index=False))
        pd.concat(tables).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()

"""What the paper's protocol (config/paper.yaml) costs, per data set: face extraction,
training and evaluation time on one GPU and on N CPU cores, from measured throughputs.

The plan is read from the config itself: every experiment and ablation model (an
ablation row equal to an experiment is not trained twice, as in the workflow), its test
sets, the robustness grid, the clip length (clips per video = usable frames / T), the
epochs, and each model's cost relative to the base model (MACs counted on the meta
device). Video counts are the data sets' official figures (below, with sources).

Throughputs (clips/s at paper size) are measured, never assumed:

* GPU: ``benchmarks/gpu.sh`` on one H200 (bf16, compiled, batch 32): 108.8 training and
  372.2 inference clips/s (README, "GPU"); ``--gpu-train`` / ``--gpu-infer`` to replace;
* CPU: ``benchmarks/model_speed.py --sizes paper`` on this machine, the path
  ``precision: auto`` takes (``--cpu-train-ms`` / ``--cpu-infer-ms`` per clip, measured
  with ``--cpu-threads`` threads); scaled linearly to ``--cores`` (an upper bound: real
  scaling is lower);
* face extraction: :func:`istvt.data.preprocess.process_video` at the paper's settings
  (every clip of T = 6 frames, 300 px; FF++ capped at 270 frames), timed here on the
  sample videos beside the repository (``--measure``), else ``--extract-ffpp-s`` /
  ``--extract-dfdc-s`` seconds per video on one core.

    python benchmarks/paper_cost.py --measure --cores 32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml
from bench_utils import cpu_line, emit  # benchmarks/bench_utils.py

from istvt.ablation import ablation_experiments
from istvt.config import ModelConfig
from istvt.model.flops import count_macs

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "samples"

#: Per data set of config/paper.yaml: videos per split, frames per video the protocol
#: reads, and where the counts come from.
DATASETS = {
    # FF++: 1,000 originals and 1,000 fakes per method; splits 720 / 140 / 140 per
    # kind (the official JSON files); the first 270 frames (the protocol)
    "ffpp_c23": {"frames": 270, "per_kind": {"train": 720, "val": 140, "test": 140}},
    "ffpp_c40": {"frames": 270, "per_kind": {"train": 720, "val": 140, "test": 140}},
    # Celeb-DF v2: 890 real + 5,639 fake; the official test list has 518; ~13 s at 30 fps
    "celebdf": {"frames": 390, "videos": {"train": 5410, "val": 601, "test": 518}},
    # DFDC preview: 5,214 videos (its dataset.json splits them; about 4,464 train and
    # 750 test, validation carved from train); ~10 s at 30 fps
    "dfdc_preview": {"frames": 300, "videos": {"train": 4018, "val": 446, "test": 750}},
    # DFDC: the 5,000-video public test set (only its test split is extracted)
    "dfdc": {"frames": 300, "videos": {"test": 5000}},
    # DeeperForensics-1.0 end_to_end fakes of the 140 FF++ test targets + those
    # originals; whole videos (FF++ averages 510 frames: 509,914 frames / 1,000 videos)
    "deeperforensics": {"frames": 510, "videos": {"test": 280}},
}


def videos(dataset: str, split: str, methods: list[str] | None, config: dict) -> int:
    spec = DATASETS[dataset]
    if "videos" in spec:
        return spec["videos"].get(split, 0)
    listed = config["datasets"][dataset]["options"]["methods"]
    kinds = 1 + len(methods if methods is not None else listed)  # originals + fakes
    return kinds * spec["per_kind"][split]


def clips(dataset: str, split: str, methods, config: dict, t: int) -> int:
    return videos(dataset, split, methods, config) * (DATASETS[dataset]["frames"] // t)


def plan(config: dict) -> tuple[dict, list]:
    """(models {name: {dataset, methods, model}}, evaluations [(model, dataset, methods)])
    of the config, ablations included."""
    base = ModelConfig.from_dict(config["model"])
    testsets = {n: {"dataset": n, "methods": None} for n in config["datasets"]}
    testsets.update(config.get("testsets", {}))
    models, evaluations = {}, []
    for name, ex in config["experiments"].items():
        models[name] = {"dataset": ex["dataset"], "methods": ex.get("methods"), "model": base}
        for t in ex["test"]:
            evaluations.append((name, testsets[t]["dataset"], testsets[t].get("methods")))
    ablations, _ = ablation_experiments(config.get("ablations"), base, set(config["datasets"]))
    for name, ex in ablations.items():
        cfg = ModelConfig.from_dict(ex["model"])
        twin = any(
            m["dataset"] == ex["dataset"] and m["methods"] is None and m["model"] == cfg
            for m in models.values()
        )
        if not twin:
            models[name] = {"dataset": ex["dataset"], "methods": None, "model": cfg}
            evaluations.append((name, ex["dataset"], None))
    robustness = config.get("robustness", {})
    levels = sum(len(v) for v in robustness_grid(config).values())
    for name in robustness.get("experiments", []):
        ds = models[name]["dataset"]
        evaluations += [(name, ds, None)] * levels
    return models, evaluations


def robustness_grid(config: dict) -> dict[str, list]:
    """Perturbation -> levels of the robustness section (null levels: the paper's)."""
    from istvt.perturb import LEVELS

    grid = config.get("robustness", {}).get("perturbations", {})
    return {k: list(LEVELS[k] if v is None else v) for k, v in grid.items()}


def measure_extraction() -> dict[str, float]:
    """Seconds per video on one core at the paper's settings: FF++ samples (first 270
    frames) and DFDC samples (whole videos)."""
    import torch

    from istvt.data.faces import FaceOptions
    from istvt.data.preprocess import PreprocessOptions, process_video

    torch.set_num_threads(1)
    out = {}
    for key, folder, cap in (("ffpp", "FaceForensics++", 270), ("dfdc", "DFDC", None)):
        paths = sorted((SAMPLES / folder).rglob("*.mp4"))
        if not paths:
            raise SystemExit(f"{SAMPLES / folder}: no sample videos; give --extract-*-s")
        options = PreprocessOptions(
            sequence_length=6,
            clips_per_video="all",
            max_frames=cap,
            faces=FaceOptions(image_size=300),
        )
        t0 = time.perf_counter()
        for p in paths:
            process_video(str(p), options)
        out[key] = (time.perf_counter() - t0) / len(paths)
        print(f"extraction, {folder} samples: {out[key]:.1f} s per video", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config" / "paper.yaml"))
    parser.add_argument("--cores", type=int, default=32, help="CPU cores of the CPU column")
    parser.add_argument("--gpu-train", type=float, default=108.8, help="clips/s, one GPU")
    parser.add_argument("--gpu-infer", type=float, default=372.2, help="clips/s, one GPU")
    parser.add_argument("--cpu-train-ms", type=float, required=True, help="ms per clip")
    parser.add_argument("--cpu-infer-ms", type=float, required=True, help="ms per clip")
    parser.add_argument("--cpu-threads", type=int, default=2, help="threads of those timings")
    parser.add_argument("--measure", action="store_true", help="time extraction on samples")
    parser.add_argument("--extract-ffpp-s", type=float, default=None)
    parser.add_argument("--extract-dfdc-s", type=float, default=None)
    parser.add_argument("--out", help="write the Markdown to this file too")
    args = parser.parse_args()

    config = yaml.safe_load(Path(args.config).read_text())
    extract = measure_extraction() if args.measure else {}
    extract.setdefault("ffpp", args.extract_ffpp_s)
    extract.setdefault("dfdc", args.extract_dfdc_s)
    if None in extract.values():
        raise SystemExit("give --measure or both --extract-ffpp-s and --extract-dfdc-s")
    models, evaluations = plan(config)
    base = ModelConfig.from_dict(config["model"])
    base_macs = count_macs(base).total
    epochs = config["train"]["epochs"]
    cpu_train = 1000 / args.cpu_train_ms * args.cores / args.cpu_threads
    cpu_infer = 1000 / args.cpu_infer_ms * args.cores / args.cpu_threads
    rows = {d: {"models": 0, "train": 0.0, "val": 0.0, "evals": 0, "eval": 0.0} for d in DATASETS}
    for m in models.values():
        cfg, ds = m["model"], m["dataset"]
        scale = count_macs(cfg).total / base_macs
        t = cfg.sequence_length
        per_epoch = clips(ds, "train", m["methods"], config, t)
        val = clips(ds, "val", m["methods"], config, t)
        # clip-seconds at unit rate: training steps plus one validation pass per epoch
        rows[ds]["models"] += 1
        rows[ds]["train"] += epochs * scale * per_epoch
        rows[ds]["val"] += epochs * scale * val
    for name, ds, methods in evaluations:
        cfg = models[name]["model"]
        scale = count_macs(cfg).total / base_macs
        rows[ds]["evals"] += 1
        rows[ds]["eval"] += scale * clips(ds, "test", methods, config, cfg.sequence_length)
    lines = [
        f"{cpu_line()}",
        f"plan: {args.config}: {len(models)} trained models, {len(evaluations)} test-set "
        f"scorings (robustness levels included), {epochs} epochs",
        f"rates: GPU train {args.gpu_train} / inference {args.gpu_infer} clips/s; CPU "
        f"{cpu_train:.2f} / {cpu_infer:.2f} clips/s on {args.cores} cores "
        f"(measured {args.cpu_train_ms:.0f} / {args.cpu_infer_ms:.0f} ms per clip on "
        f"{args.cpu_threads} threads, scaled linearly); extraction {extract['ffpp']:.1f} s "
        f"(FF++-like) / {extract['dfdc']:.1f} s (DFDC-like, 1080p) per video and core",
        "",
        f"| data set | videos extracted (all face sets) | extraction h on {args.cores} cores | "
        "models | "
        f"training GPU-h | training days on {args.cores} cores | test scorings | "
        f"evaluation GPU-h | evaluation h on {args.cores} cores |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    totals = [0.0] * 5
    # face sets beyond each data set's own: other clip lengths (Table IV) and the test
    # videos re-encoded at each CRF level of the robustness grid
    lengths = {(m["dataset"], m["model"].sequence_length) for m in models.values()}
    robustness = config.get("robustness", {})
    crf = robustness_grid(config).get("compression", [])
    robust_sets = {models[e]["dataset"] for e in robustness.get("experiments", [])}
    for ds, r in rows.items():
        n = sum(videos(ds, s, None, config) for s in ("train", "val", "test"))
        if not r["models"]:
            n = videos(ds, "test", None, config)  # only the test split is extracted
        n *= len({t for d, t in lengths if d == ds}) or 1
        if ds in robust_sets:
            n += len(crf or []) * videos(ds, "test", None, config)
        per_video = extract["dfdc" if ds.startswith("dfdc") else "ffpp"]
        per_video *= DATASETS[ds]["frames"] / (270 if not ds.startswith("dfdc") else 300)
        ext_h = n * per_video / args.cores / 3600
        train_gpu = (r["train"] / args.gpu_train + r["val"] / args.gpu_infer) / 3600
        train_cpu = (r["train"] / cpu_train + r["val"] / cpu_infer) / 86400
        eval_gpu = r["eval"] / args.gpu_infer / 3600
        eval_cpu = r["eval"] / cpu_infer / 3600
        for k, v in enumerate((ext_h, train_gpu, train_cpu, eval_gpu, eval_cpu)):
            totals[k] += v
        lines.append(
            f"| {ds} | {n} | {ext_h:.1f} | {r['models']} | {train_gpu:.0f} | {train_cpu:.0f} | "
            f"{r['evals']} | {eval_gpu:.1f} | {eval_cpu:.0f} |"
        )
    lines.append(
        f"| **all** | | **{totals[0]:.0f}** | **{len(models)}** | **{totals[1]:.0f}** | "
        f"**{totals[2]:.0f}** | **{len(evaluations)}** | **{totals[3]:.1f}** | "
        f"**{totals[4]:.0f}** |"
    )
    emit("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()

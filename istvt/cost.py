"""What a plan costs: face extraction, training, evaluation and relevance-map hours on
this machine's CPU and on a named GPU, and the disk of the face-clip store.

The estimate multiplies the plan's work (videos, clips, epochs, each model's MACs)
by measured rates that ship with the package (``istvt/rates.yaml``; each entry names the
command, machine and commit that measured it; ``benchmarks/plan_rates.py`` measures a
new machine). A CPU takes the rates of the measured CPU class nearest its flags (AMX,
AVX512-BF16, AVX2) and the reference model nearest in MACs, scaled by MACs. CPU figures
are core-hours at one thread per job, the way the workflow packs jobs onto cores;
wall time is core-hours / cores, a lower bound.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from istvt.model.flops import model_gmacs

RATES_FILE = Path(__file__).with_name("rates.yaml")

#: Video counts of data sets whose root is missing, per split and kind, from each data
#: set's official figures (FF++: 720 / 140 / 140 per kind, the official JSON splits;
#: Celeb-DF v2: 890 real + 5,639 fake, 518 in the official test list; DFDC-preview's
#: dataset.json; the DFDC public test set; DeeperForensics' fakes of the 140 FF++ test
#: targets + those originals). Validation carved from training where the reader does.
OFFICIAL_VIDEOS = {
    "ffpp": {"per_kind": {"train": 720, "val": 140, "test": 140}},
    "celebdf": {"train": 5410, "val": 601, "test": 518},
    "dfdc_preview": {"train": 4018, "val": 446, "test": 750},
    "dfdc": {"train": 107_000, "val": 12_000, "test": 5000},
    "deeperforensics": {"test": 280},
}
#: Frames per video a reader sees, by layout (FF++ averages 510: 509,914 frames over
#: 1,000 videos; Celeb-DF ~13 s and DFDC ~10 s at 30 fps); folders: assumed 300
TYPICAL_FRAMES = {
    "ffpp": 510,
    "celebdf": 390,
    "dfdc": 300,
    "dfdc_preview": 300,
    "dfdc_sample": 300,
    "deeperforensics": 510,
    "folder": 300,
}
#: which measured extraction rate a layout takes (DFDC's videos are 1080p)
EXTRACTION_CLASS = {"dfdc": "dfdc", "dfdc_preview": "dfdc", "dfdc_sample": "dfdc"}


def load_rates(path: Path = RATES_FILE) -> dict:
    return yaml.safe_load(Path(path).read_text())


def cpu_flags() -> set[str]:
    from istvt.inference import cpu_description

    return set(cpu_description()["flags"])


def cpu_class(flags: set[str]) -> str:
    if {"amx_bf16", "amx_tile"} & flags:
        return "amx"
    if "avx512_bf16" in flags:
        return "avx512_bf16"
    return "avx2"


def _nearest(references: list[dict], macs: float) -> dict:
    return min(references, key=lambda r: abs(math.log(macs / r["gmacs"])))


@dataclass
class Stage:
    """One line of the estimate: CPU core-hours and GPU-hours of a stage."""

    core_h: float = 0.0
    gpu_h: float | None = 0.0
    jobs: int = 0
    detail: dict = field(default_factory=dict)


def videos_per_split(plan, manifests: dict) -> dict[str, dict]:
    """Videos per split of every data set: from its manifest (read from the layout, or
    an existing ``results/manifests``), a demo's own counts, or the official counts
    where the root is missing. Each entry: {split: n, ..., "source": why}."""
    from istvt.data.demo import expected_videos
    from istvt.data.manifest import read_manifest

    out = {}
    for name, ds in plan.datasets.items():
        existing = Path(f"results/manifests/{name}.csv")
        if name in manifests:
            counts = manifests[name]["split"].value_counts().to_dict()
            out[name] = {**counts, "source": "read from the root"}
        elif existing.is_file():
            counts = read_manifest(existing)["split"].value_counts().to_dict()
            out[name] = {**counts, "source": f"from {existing}"}
        elif ds.get("demo"):
            fraction = ds.get("options", {}).get("val_fraction", 0.1)
            counts = expected_videos(Path(ds["root"]).name, plan.demo, fraction)
            out[name] = {**counts, "source": "made by demo_data"}
        else:
            out[name] = {**_official(ds), "source": "official counts (root missing)"}
    return out


def _official(ds: dict) -> dict:
    spec = OFFICIAL_VIDEOS.get(ds["layout"], {})
    if "per_kind" not in spec:
        return dict(spec)
    options = ds.get("options", {})
    methods = options.get("methods") or ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]
    kinds = 1 + len(methods)
    comps = len(options.get("compressions") or ["c23"])
    return {s: n * kinds * comps for s, n in spec["per_kind"].items()}


def _frames(plan, dataset: str) -> int:
    ds = plan.datasets[dataset]
    frames = plan.demo.frames if ds.get("demo") else TYPICAL_FRAMES.get(ds["layout"], 300)
    cap = plan.dataset_preprocess(dataset).max_frames
    return min(frames, cap) if cap else frames


def _clips_per_video(plan, dataset: str, length: int) -> int:
    usable = _frames(plan, dataset) // length
    k = plan.dataset_preprocess(dataset).clips_per_video
    return usable if k == "all" else min(k, usable)


def estimate(
    plan, videos: dict[str, dict], rates: dict, flags: set[str], gpu: str, calibrate: bool = True
) -> dict:
    """Per stage: core-hours on this CPU class, GPU-hours on ``gpu``, and disk.
    ``calibrate``: scale each stage's core-hours by the class's ``calibration`` (what a
    whole run's jobs took against these rates: benchmarks/plan_check.py), where measured."""
    cls = cpu_class(flags)
    cpu = rates["cpus"][cls if cls in rates["cpus"] else "avx2"]
    gpu_rates = rates["gpus"][gpu]
    names = ("demo data", "face extraction", "training", "evaluation", "relevance maps")
    stages = {k: Stage() for k in names}

    def n(ds, split):
        return videos[ds].get(split, 0)

    def clips(ds, split, model):
        return n(ds, split) * _clips_per_video(plan, ds, model["sequence_length"])

    measured_lrp = [m for c in rates["cpus"].values() for m in c["models"] if "lrp_ms" in m]

    def add(stage, model, count, kind):
        """``count`` clips of ``kind`` (train, infer, lrp) through ``model``."""
        gm = model_gmacs(model)
        ref = dict(_nearest(cpu["models"], gm))
        if "lrp_ms" not in ref:
            other = _nearest(measured_lrp, gm)
            ref["lrp_ms"] = ref["infer_ms"] * other["lrp_ms"] / other["infer_ms"]
        ms = ref[f"{kind}_ms"] * ref.get("threads", 1) * gm / ref["gmacs"]
        # the GPU rates are clips/s of the paper-size model; LRP there as on the CPU,
        # a multiple of a forward pass
        per_clip = {
            "train": 1 / gpu_rates["train_clips_per_s"],
            "infer": 1 / gpu_rates["infer_clips_per_s"],
        }
        per_clip["lrp"] = per_clip["infer"] * ref["lrp_ms"] / ref["infer_ms"]
        stages[stage].core_h += count * ms / 1000 / 3600
        stages[stage].gpu_h += count * per_clip[kind] * gm / gpu_rates["gmacs"] / 3600

    # the demo's own videos (rule demo_data), on CPU cores only
    demo = stages.pop("demo data")
    for root in {ds["root"] for ds in plan.datasets.values() if ds.get("demo")}:
        name = next(n for n, ds in plan.datasets.items() if ds.get("demo") and ds["root"] == root)
        count = sum(v for k, v in videos[name].items() if k != "source")
        demo.core_h += count * plan.demo.frames * rates["demo_data"]["s_per_frame"] / 3600
        demo.jobs += 1
    if demo.jobs:
        demo.gpu_h = None
        stages = {"demo data": demo, **stages}
    # face extraction: every face set's videos, on CPU cores only
    disk = 0.0
    for faceset, ds in plan.facesets().items():
        spec = plan.datasets[ds]
        splits = ["test"] if faceset.startswith("perturbed/") else plan.dataset_splits(ds)
        count = sum(n(ds, s) for s in splits)
        kind = "demo" if spec.get("demo") else EXTRACTION_CLASS.get(spec["layout"], "ffpp")
        seconds = count * _frames(plan, ds) * rates["extraction"][kind]["s_per_frame"]
        stages["face extraction"].core_h += seconds / 3600
        stages["face extraction"].jobs += 1
        options = plan.faceset_options(faceset)
        length, size = options["sequence_length"], plan.model.image_size
        ratio = rates["store_ratio"].get(options["store"], 1.0)
        disk += count * _clips_per_video(plan, ds, length) * length * size * size * 3 * ratio
    stages["face extraction"].gpu_h = None

    trainings = {}
    for name, ex in plan.experiments.items():
        ds, model, recipe = ex["dataset"], ex["model"], ex["train"]
        per_video = _clips_per_video(plan, ds, model["sequence_length"])
        per_video = min(per_video, recipe.get("clips_per_video") or per_video)
        # an epoch of the entry flow alone counted as one of the whole model (it takes
        # 0.7 of one on the demo: benchmarks/stall_ladder.py's seconds per epoch)
        epochs = recipe["epochs"] + recipe.get("entry_epochs", 0)
        before = dataclasses.replace(stages["training"])
        add("training", model, epochs * n(ds, "train") * per_video, "train")
        add("training", model, epochs * clips(ds, "val", model), "infer")
        stages["training"].jobs += 1
        trainings[name] = {
            "core_h": stages["training"].core_h - before.core_h,
            "gpu_h": stages["training"].gpu_h - before.gpu_h,
        }
        for test in ex["test"]:
            add("evaluation", model, clips(plan.testsets[test]["dataset"], "test", model), "infer")
            stages["evaluation"].jobs += 1
    for e, tset, _, _ in plan.robustness:  # one scoring of the test split per level
        model = plan.experiments[e]["model"]
        add("evaluation", model, clips(plan.testsets[tset]["dataset"], "test", model), "infer")
        stages["evaluation"].jobs += 1
    faith = plan.faithfulness
    for e in plan.interpreted:
        ex = plan.experiments[e]
        count = clips(ex["dataset"], "test", ex["model"])
        count = min(count, faith.max_clips or count)
        # ISTVT-LRP as measured; every other method about a training step; deletion
        # scores each fraction of each method's maps
        add("relevance maps", ex["model"], count, "lrp")
        add("relevance maps", ex["model"], count * (len(faith.methods) - 1), "train")
        add(
            "relevance maps",
            ex["model"],
            count * len(faith.methods) * len(faith.fractions),
            "infer",
        )
        stages["relevance maps"].jobs += 1
    factors = cpu.get("calibration", {}) if calibrate else {}
    unknown = set(factors) - set(names)
    if unknown:
        raise ValueError(
            f"istvt/rates.yaml: calibration of {cls}: unknown stages {sorted(unknown)}"
        )
    for stage, factor in factors.items():
        if stage in stages:  # a plan without demo data sets has no "demo data" stage
            stages[stage].core_h *= factor
    for training in trainings.values():
        training["core_h"] *= factors.get("training", 1.0)
    return {
        "cpu_class": cls,
        "cpu": cpu,
        "gpu": gpu_rates,
        "stages": stages,
        "disk_bytes": disk,
        "trainings": trainings,
    }


#: the stages a training seed repeats (data and face extraction are shared)
SEED_STAGES = ("training", "evaluation", "relevance maps")


def stop_margin_hours(limit_hours: float) -> float:
    """How long before a job's time limit a training stops (istvt.train.Clock): a tenth
    of the limit, at least 10 s and at most 5 minutes."""
    return min(300.0, max(10.0, 0.1 * limit_hours * 3600)) / 3600


def segments(wall_hours: float, limit_hours: float | None) -> int | None:
    """Jobs a training of ``wall_hours`` takes under a time limit (each stops a margin
    before it and the next resumes; start-up and the resume are not counted)."""
    if not limit_hours:
        return None
    usable = limit_hours - stop_margin_hours(limit_hours)
    return max(1, math.ceil(wall_hours / usable)) if usable > 0 else None


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def plan_summary(
    config: dict,
    source: str,
    gpu: str = "H200",
    time_limit_minutes: float | None = None,
    calibrate: bool = True,
) -> dict:
    """Everything ``istvt plan`` prints, as plain data (``--json``); ``calibrate``: see
    :func:`estimate`."""
    from istvt.plan import make_plan, read_datasets, split_problems, validate_schema

    validate_schema(config)
    plan = make_plan(config, require_roots=False)
    manifests = read_datasets(plan)
    videos = videos_per_split(plan, manifests)
    used = {
        name: sum(v for s, v in videos[name].items() if s in plan.dataset_splits(name))
        for name in plan.datasets
    }
    used.update({f"{name}/test": videos[name].get("test", 0) for name in plan.datasets})
    rates = load_rates()
    if gpu not in rates["gpus"]:
        raise ValueError(f"--gpu {gpu!r}: measured GPUs are {', '.join(rates['gpus'])}")
    flags = cpu_flags()
    cost = estimate(plan, videos, rates, flags, gpu, calibrate)
    n_cores = cores()
    return {
        "config": source,
        "datasets": {
            name: {
                "layout": ds["layout"],
                "root": ds["root"],
                "root_found": bool(ds.get("demo")) or name not in plan.missing_roots,
                "demo": bool(ds.get("demo")),
                "splits_read": plan.dataset_splits(name),
                "videos": {k: v for k, v in videos[name].items() if k != "source"},
                "videos_from": videos[name]["source"],
            }
            for name, ds in plan.datasets.items()
        },
        "missing_roots": [f"datasets.{n}.root" for n in plan.missing_roots],
        "problems": split_problems(plan, manifests),
        "jobs": {**plan.jobs(), "preprocess_shard": plan.shard_jobs(used)},
        "seeds": {
            "seeds": plan.seeds,
            "experiments": len(set(plan.run_names.values())),
            "trainings": len(plan.experiments),
            # the stages that run once per seed; data and face extraction run once
            "core_hours_per_seed": round(
                sum(cost["stages"][k].core_h for k in SEED_STAGES if k in cost["stages"])
                / len(plan.seeds),
                3,
            ),
            "gpu_hours_per_seed": round(
                sum(cost["stages"][k].gpu_h or 0 for k in SEED_STAGES if k in cost["stages"])
                / len(plan.seeds),
                3,
            ),
        },
        "cost": {
            "cpu": {
                "class": cost["cpu_class"],
                "cores": n_cores,
                "rates_from": cost["cpu"]["machine"],
                "calibrated": bool(calibrate and cost["cpu"].get("calibration")),
            },
            "gpu": {"name": gpu, "rates_from": cost["gpu"]["machine"]},
            "stages": {
                k: {
                    "jobs": st.jobs,
                    "cpu_core_hours": round(st.core_h, 3),
                    "cpu_wall_hours": round(st.core_h / n_cores, 3),
                    "gpu_hours": None if st.gpu_h is None else round(st.gpu_h, 3),
                }
                for k, st in cost["stages"].items()
            },
            "disk_gb": round(cost["disk_bytes"] / 1e9, 2),
            "store": plan.preprocess.store,
        },
        "trainings": _trainings(plan, cost["trainings"], time_limit_minutes),
    }


def _trainings(plan, costs: dict, time_limit_minutes: float | None) -> dict:
    """Per training: the expected wall time on its GPUs (``gpus.train``, one if 0) and
    on its CPU threads (``threads.train``), and the jobs each takes under the limit."""
    gpus = max(1, plan.gpus["train"])
    threads = max(1, plan.threads["train"])
    limit = time_limit_minutes / 60 if time_limit_minutes else None
    out = {}
    for name, c in costs.items():
        gpu_wall, cpu_wall = c["gpu_h"] / gpus, c["core_h"] / threads
        out[name] = {
            "gpus": gpus,
            "gpu_wall_hours": round(gpu_wall, 4),
            "cpu_threads": threads,
            "cpu_wall_hours": round(cpu_wall, 4),
            "time_limit_minutes": time_limit_minutes,
            "gpu_jobs": segments(gpu_wall, limit),
            "cpu_jobs": segments(cpu_wall, limit),
        }
    return out


def _hours(h: float | None) -> str:
    if h is None:
        return "-"
    if h < 0.1 / 60:
        return "< 0.1 min"
    if h < 1:
        return f"{60 * h:.1f} min"
    return f"{h:,.1f} h" if h < 48 else f"{h:,.0f} h ({h / 24:,.0f} d)"


def format_plan(s: dict) -> str:
    lines = [
        f"istvt plan: {s['config']}",
        "",
        "Data sets (videos per split; * = read by this plan)",
        "",
    ]
    lines += [
        "| data set | layout | root | train | val | test | counted |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in s["datasets"].items():
        root = d["root"] + ("" if d["root_found"] else " **(missing)**")
        cells = [
            f"{d['videos'].get(k, 0)}{'*' if k in d['splits_read'] else ''}"
            for k in ("train", "val", "test")
        ]
        lines.append(
            f"| {name} | {d['layout']} | {root} | {' | '.join(cells)} | {d['videos_from']} |"
        )
    if s["missing_roots"]:
        lines += ["", f"Missing roots (set them to your copies): {', '.join(s['missing_roots'])}"]
    for problem in s["problems"]:
        lines += ["", f"Would stop the run: {problem.splitlines()[0]}"]
    seeds = s["seeds"]
    lines += [
        "",
        f"Training seeds: {', '.join(map(str, seeds['seeds']))}: {seeds['experiments']} "
        f"experiments and ablation models, {seeds['trainings']} trainings; each seed adds "
        f"{_hours(seeds['core_hours_per_seed'])} of CPU core time or "
        f"{_hours(seeds['gpu_hours_per_seed'])} of {s['cost']['gpu']['name']} time (training, "
        "evaluation, relevance maps; the data and faces are shared)",
    ]
    lines += ["", "Jobs per rule (a run from scratch; preprocess_shard follows the manifests)", ""]
    lines += ["| rule | jobs |", "|---|---|"]
    lines += [f"| {rule} | {n} |" for rule, n in s["jobs"].items()]
    total = sum(s["jobs"].values())
    lines.append(f"| **total** | **{total}** |")
    c = s["cost"]
    lines += [
        "",
        f"Estimated cost: this CPU ({c['cpu']['class']} class, {c['cpu']['cores']} cores; rates "
        f"of {c['cpu']['rates_from']}"
        f"{', calibrated on a whole run' if c['cpu'].get('calibrated') else ''}) and one "
        f"{c['gpu']['name']} ({c['gpu']['rates_from']})",
        "",
        f"| stage | jobs | CPU core-hours | CPU wall on {c['cpu']['cores']} cores (ideal) | "
        f"{c['gpu']['name']} GPU-hours |",
        "|---|---|---|---|---|",
    ]
    for name, st in c["stages"].items():
        lines.append(
            f"| {name} | {st['jobs']} | {_hours(st['cpu_core_hours'])} | "
            f"{_hours(st['cpu_wall_hours'])} | {_hours(st['gpu_hours'])} |"
        )
    core = sum(st["cpu_core_hours"] for st in c["stages"].values())
    gpu = sum(st["gpu_hours"] or 0 for st in c["stages"].values())
    lines.append(
        f"| **all** | | **{_hours(core)}** | **{_hours(core / c['cpu']['cores'])}** | "
        f"**{_hours(gpu)}** (+ extraction on CPU cores) |"
    )
    lines += [
        "",
        f"Face-clip store ({c['store']}): {c['disk_gb']:.2f} GB. Estimates from the measured "
        "rates in istvt/rates.yaml; face extraction runs on CPU cores in either case.",
    ]
    lines += _format_trainings(s["trainings"], c["gpu"]["name"])
    return "\n".join(lines)


def _format_trainings(trainings: dict, gpu: str) -> list[str]:
    if not trainings:
        return []
    first = next(iter(trainings.values()))
    limit = first["time_limit_minutes"]
    head = f"Trainings: expected wall time on {first['gpus']} {gpu} and on {first['cpu_threads']}"
    head += " CPU threads (gpus.train, threads.train)"
    if limit:
        head += f"; jobs each takes under a {limit:g}-minute time limit (a stopped training"
        head += " resumes in the next job: keep the profile's preemptible-retries above"
        head += " the largest)"
    else:
        head += "; --time-limit MINUTES adds the jobs each takes under a cluster's limit"
    lines = ["", head, ""]
    cols = "| training | GPU wall | CPU wall |" + (" GPU jobs | CPU jobs |" if limit else "")
    lines += [cols, "|---" * (cols.count("|") - 1) + "|"]
    for name, t in trainings.items():
        row = f"| {name} | {_hours(t['gpu_wall_hours'])} | {_hours(t['cpu_wall_hours'])} |"
        if limit:
            row += f" {t['gpu_jobs']} | {t['cpu_jobs']} |"
        lines.append(row)
    return lines

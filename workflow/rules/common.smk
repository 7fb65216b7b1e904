# Shared helpers: config validation (fails before any job runs), input functions,
# wildcard constraints.

import re
from pathlib import Path

from snakemake.utils import validate

from istvt import __version__ as ISTVT_VERSION
from istvt.ablation import ablation_experiments
from istvt.config import ConfigError, ModelConfig
from istvt.data.demo import WRITERS as DEMO_LAYOUTS
from istvt.data.demo import DemoOptions
from istvt.data.manifest import ManifestError, build_manifest, coverage_markdown
from istvt.data.manifest import coverage_table, read_manifest
from istvt.data.manifest.coverage import empty_split_message
from istvt.data.preprocess import PreprocessOptions, shard_count
from istvt.interpret.faithfulness import FaithfulnessConfig
from istvt.interpret.relevance import DECOMPOSED
from istvt.perturb import LEVELS as PERTURBATION_LEVELS
from istvt.perturb import VIDEO_LEVEL
from istvt.perturb import check as check_perturbation
from istvt.report.tables import TABLE1_CELLS, TABLE2_CELLS, parse_cell
from istvt.train import TrainConfig


def _invalid(message):
    raise WorkflowError(f"invalid configuration: {message}")


try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as exc:
    _invalid(exc)

try:
    MODEL_CONFIG = ModelConfig.from_dict(config.get("model"), where="config 'model'")
    DEMO_OPTIONS = DemoOptions.from_dict(config.get("demo"))
    TRAIN_CONFIG = TrainConfig.from_dict({"seed": config.get("seed", 0), **config.get("train", {})})
    PREPROCESS_OPTIONS = PreprocessOptions.from_dict(
        {
            **config.get("preprocess", {}),
            "sequence_length": MODEL_CONFIG.sequence_length,
            "image_size": MODEL_CONFIG.image_size,
        }
    )
except (ConfigError, TypeError, ValueError) as exc:
    _invalid(exc)

EVALUATE = {"bootstrap": 1000, "batch_size": 16, "precision": "auto", **config.get("evaluate", {})}
THREADS = {"train": 8, "evaluate": 1, "interpret": 1, **config.get("threads", {})}
GPUS = {"train": 0, "evaluate": 0, "interpret": 0, **config.get("gpus", {})}

# ---------------------------------------------------------------- datasets
DATASETS = config["datasets"]
for _name, _ds in DATASETS.items():
    try:
        PreprocessOptions.from_dict({**PREPROCESS_OPTIONS.to_dict(), **_ds.get("preprocess", {})})
    except (ConfigError, TypeError, ValueError) as exc:
        _invalid(f"datasets.{_name}: {exc}")
    if _ds.get("demo"):
        if _ds["layout"] not in DEMO_LAYOUTS or _ds["root"] != f"resources/demo/{_ds['layout']}":
            _invalid(
                f"datasets.{_name}: a demo data set has layout one of {', '.join(DEMO_LAYOUTS)} "
                f"and root resources/demo/<layout>"
            )
    elif not Path(_ds["root"]).is_dir():
        _invalid(
            f"datasets.{_name}.root = {_ds['root']!r} does not exist; "
            f"point it at your copy of the dataset"
        )

# The demo contact sheet (rule demo_figure), where the run generates demo data
DEMO_ROOTS = sorted({ds["root"] for ds in DATASETS.values() if ds.get("demo")})
DEMO_FIGURE = ["results/figures/demo_data.png"] if DEMO_ROOTS else []

# Real data sets are read now (file listings and metadata only, seconds even for DFDC),
# so that an unreadable layout or an empty split stops the run before any job starts.
# Only where the run is planned: a job that Snakemake spawns (on a cluster node) parses
# this file again and must not list the data sets once per job. Demo data sets do not
# exist yet; rule manifest checks them.
MANIFESTS = {}
for _name, _ds in DATASETS.items():
    if not _ds.get("demo") and getattr(workflow, "is_main_process", True):
        try:
            MANIFESTS[_name] = build_manifest(_ds["layout"], _ds["root"], **_ds.get("options", {}))
        except ManifestError as exc:
            _invalid(f"datasets.{_name} ({_ds['layout']} at {_ds['root']}): {exc}")

# ---------------------------------------------------------------- test sets
TESTSETS = {name: {"dataset": name, "methods": None} for name in DATASETS}
for _name, _ts in config.get("testsets", {}).items():
    if _ts["dataset"] not in DATASETS:
        _invalid(f"testsets.{_name}.dataset = {_ts['dataset']!r} is not one of datasets")
    TESTSETS[_name] = {"dataset": _ts["dataset"], "methods": _ts.get("methods")}

# ---------------------------------------------------------------- experiments
EXPERIMENTS = {}
for _name, _ex in config["experiments"].items():
    if _ex["dataset"] not in DATASETS:
        _invalid(f"experiments.{_name}.dataset = {_ex['dataset']!r} is not one of datasets")
    for _t in _ex["test"]:
        if _t not in TESTSETS:
            _invalid(f"experiments.{_name}.test: {_t!r} is neither a dataset nor a testset")
    try:
        _model = ModelConfig.from_dict(
            {**MODEL_CONFIG.to_dict(), **_ex.get("model", {})}, where=f"experiments.{_name}.model"
        )
        _train = TrainConfig.from_dict({**TRAIN_CONFIG.__dict__, **_ex.get("train", {})})
    except (ConfigError, TypeError, ValueError) as exc:
        _invalid(f"experiments.{_name}: {exc}")
    if _model.image_size != MODEL_CONFIG.image_size:
        _invalid(
            f"experiments.{_name}.model: image_size must match the model section (the "
            f"face clips are extracted once, at that size)"
        )
    EXPERIMENTS[_name] = {
        "dataset": _ex["dataset"],
        "methods": _ex.get("methods"),
        "test": list(_ex["test"]),
        "model": _model.to_dict(),
        "train": _train.__dict__,
    }

# ---------------------------------------------------------------- ablations
try:
    _ablations, ABLATION_ROWS = ablation_experiments(
        config.get("ablations"), MODEL_CONFIG, set(DATASETS)
    )
    _ablation_train = TrainConfig.from_dict(
        {**TRAIN_CONFIG.__dict__, **config.get("ablations", {}).get("train", {})}
    )
except (ConfigError, TypeError, ValueError) as exc:
    _invalid(exc)
# A row whose model, recipe and data set equal a configured experiment's (usually the
# base row) reads that experiment's model: nothing is trained twice.
_same_as = {}
for _name, _ex in _ablations.items():
    if _name in EXPERIMENTS:
        _invalid(f"ablations: generated experiment {_name!r} clashes with experiments.{_name}")
    _spec = {
        "dataset": _ex["dataset"],
        "methods": None,
        "model": _ex["model"],
        "train": _ablation_train.__dict__,
    }
    _twin = next(
        (
            _e
            for _e, _other in EXPERIMENTS.items()
            if _ex["dataset"] in _other["test"]
            and all(_other[_k] == _v for _k, _v in _spec.items())
        ),
        None,
    )
    if _twin is not None:
        _same_as[_name] = _twin
        continue
    EXPERIMENTS[_name] = {**_spec, "test": [_ex["dataset"]]}
ABLATION_ROWS = [{**_r, "experiment": _same_as.get(_r["experiment"], _r["experiment"])} for _r in ABLATION_ROWS]
ABLATION_TABLES = sorted({r["table"] for r in ABLATION_ROWS})
MAIN_EXPERIMENTS = list(config["experiments"])
# training curves: the configured experiments, and the ablation models apart
TRAINING_GROUPS = {"main": MAIN_EXPERIMENTS}
TRAINING_FIGURES = {"main": "results/figures/training_curves.png"}
if set(EXPERIMENTS) - set(MAIN_EXPERIMENTS):
    TRAINING_GROUPS["ablations"] = [e for e in EXPERIMENTS if e not in MAIN_EXPERIMENTS]
    TRAINING_FIGURES["ablations"] = "results/figures/training_curves_ablations.png"

# ---------------------------------------------------------------- report
REPORT = {"table1": {}, "table2": {}, **config.get("report", {})}
for _table, _cells in (("table1", TABLE1_CELLS), ("table2", TABLE2_CELLS)):
    for _cell, _address in REPORT[_table].items():
        if _cell not in _cells:
            _invalid(f"report.{_table}: unknown cell {_cell!r}; cells are {', '.join(_cells)}")
        try:
            _exp, _test, _method = parse_cell(_address)
        except ValueError as exc:
            _invalid(f"report.{_table}.{_cell}: {exc}")
        if _exp not in EXPERIMENTS or _test not in EXPERIMENTS[_exp]["test"]:
            _invalid(
                f"report.{_table}.{_cell} = {_address!r}: experiment {_exp!r} is not "
                f"configured or is not evaluated on {_test!r}"
            )

EVALUATIONS = [(e, t) for e, ex in EXPERIMENTS.items() for t in ex["test"]]
# The splits of each data set this plan reads: train and val where a model trains on
# it, test where one is tested on it (its own test split included: robustness and
# interpretation read it). The manifest keeps only those, so a data set used for
# testing alone (the full DFDC: 5,000 test videos beside 119,000 training ones) has
# only its test videos face-extracted; the coverage table still counts them all.
SPLITS_USED = {_name: set() for _name in DATASETS}
for _name, _ex in EXPERIMENTS.items():
    SPLITS_USED[_ex["dataset"]] |= {"train", "val", "test"}
    for _t in _ex["test"]:
        SPLITS_USED[TESTSETS[_t]["dataset"]].add("test")


def _check_splits():
    """Every experiment has videos to train, select and test on (real data sets)."""
    for name, ex in EXPERIMENTS.items():
        uses = [(ex["dataset"], s, ex["methods"], None) for s in ("train", "val")]
        uses += [(TESTSETS[t]["dataset"], "test", TESTSETS[t]["methods"], t) for t in ex["test"]]
        for dataset, split, methods, testset in uses:
            if dataset not in MANIFESTS:
                continue
            problem = empty_split_message(MANIFESTS[dataset], split, methods)
            if problem:
                manifest = MANIFESTS[dataset]
                via = f" (test set {testset!r})" if testset and testset != dataset else ""
                only = f" restricted to {', '.join(methods)}" if methods else ""
                _invalid(
                    f"experiment {name!r}: the {split} split of data set {dataset!r}{via}"
                    f"{only}: {problem}. Check datasets.{dataset}.root and its options "
                    f"against what is on disk:\n\n"
                    + coverage_markdown(coverage_table(manifest), dataset, manifest)
                )


_check_splits()

# ---------------------------------------------------------------- robustness
ROBUSTNESS = []  # (experiment, testset, perturbation, level as written in paths)
_robust = config.get("robustness", {})
for _name in _robust.get("experiments", []):
    if _name not in EXPERIMENTS:
        _invalid(f"robustness.experiments: {_name!r} is not one of experiments")
    if EXPERIMENTS[_name]["model"]["sequence_length"] != MODEL_CONFIG.sequence_length:
        _invalid(f"robustness.experiments: {_name!r} must use the model section's sequence_length")
    _own = EXPERIMENTS[_name]["dataset"]
    if _own not in EXPERIMENTS[_name]["test"]:
        _invalid(
            f"robustness.experiments: {_name!r} is not evaluated on its own data set "
            f"{_own!r} (add it to experiments.{_name}.test: the clean score is the baseline)"
        )
    for _p, _levels in _robust.get("perturbations", {}).items():
        for _level in PERTURBATION_LEVELS.get(_p, []) if _levels is None else _levels:
            try:
                check_perturbation(_p, _level)
            except ValueError as exc:
                _invalid(f"robustness.perturbations.{_p}: {exc}")
            ROBUSTNESS.append((_name, _own, _p, f"{_level:g}"))
        if _p not in PERTURBATION_LEVELS:
            _invalid(f"robustness.perturbations: unknown {_p!r}; known: {', '.join(PERTURBATION_LEVELS)}")
ROBUST_EXPERIMENTS = sorted({e for e, _, _, _ in ROBUSTNESS})
# the clip-level grid (perturbation, level): one job scores all of it for a model
CLIP_GRID = list(dict.fromkeys((p, lv) for _, _, p, lv in ROBUSTNESS if p not in VIDEO_LEVEL))

# ---------------------------------------------------------------- interpretability
INTERPRET = dict(config.get("interpret", {}))
INTERPRETED = INTERPRET.pop("experiments", None)
INTERPRETED = list(config["experiments"]) if INTERPRETED is None else INTERPRETED
HEATMAPS = INTERPRET.pop("heatmaps", 4)
try:
    FAITHFULNESS = FaithfulnessConfig(**INTERPRET)
except (TypeError, ValueError) as exc:
    _invalid(exc)
for _name in INTERPRETED:
    if _name not in EXPERIMENTS:
        _invalid(f"interpret.experiments: {_name!r} is not one of experiments")
    _attention = EXPERIMENTS[_name]["model"]["attention"]
    _needs = sorted({"lrp", "rollout", "raw_attention"} & set(FAITHFULNESS.methods))
    if _needs and _attention not in DECOMPOSED:
        _invalid(
            f"interpret: experiment {_name!r} uses attention {_attention!r}, which has no "
            f"separate temporal and spatial attention for {', '.join(_needs)}; leave it out "
            f"of interpret.experiments or set interpret.methods to [gradcam, random]"
        )


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names)) or "none"


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    experiment=_alternatives(EXPERIMENTS),
    testset=_alternatives(TESTSETS),
    demo=_alternatives(DEMO_LAYOUTS),
    perturbation=_alternatives(PERTURBATION_LEVELS),
    level=r"[0-9][0-9.e+-]*",
    length=r"[0-9]+",
    table=_alternatives(ABLATION_TABLES),
    shard=r"[0-9]+",
    faceset=rf"(length-[0-9]+/|perturbed/)?({_alternatives(DATASETS)})(/compression-[^/]+)?",


# ---------------------------------------------------------------- input functions
def get_dataset_input(wildcards):
    """The demo data sets are made by rule demo_data; real ones exist already."""
    ds = DATASETS[wildcards.dataset]
    return f"resources/demo/{ds['layout']}" if ds.get("demo") else []


def get_dataset_layout(wildcards):
    return DATASETS[wildcards.dataset]["layout"]


def get_dataset_root(wildcards):
    return DATASETS[wildcards.dataset]["root"]


def get_dataset_options(wildcards):
    return DATASETS[wildcards.dataset].get("options", {})


def get_dataset_splits(wildcards):
    return sorted(SPLITS_USED[wildcards.dataset] or {"train", "val", "test"})


def _data_of(dataset, experiment=None):
    """Manifest and face clips of a data set, extracted at the experiment's clip length
    (models of another sequence_length than the model section's get their own)."""
    length = EXPERIMENTS[experiment]["model"]["sequence_length"] if experiment else None
    faces = f"results/faces/{dataset}"
    if length is not None and length != MODEL_CONFIG.sequence_length:
        faces = f"results/faces/length-{length}/{dataset}"
    return {"manifest": f"results/manifests/{dataset}.csv", "faces": faces}


def get_train_data(wildcards):
    return _data_of(EXPERIMENTS[wildcards.experiment]["dataset"], wildcards.experiment)


def get_test_data(wildcards):
    return _data_of(TESTSETS[wildcards.testset]["dataset"], wildcards.experiment)


def _faceset(faceset):
    """A face set's (manifest path, dataset, clip length or None, checkpoint wildcards)."""
    m = re.fullmatch(r"length-([0-9]+)/(.+)", faceset)
    if m:
        return f"results/manifests/{m[2]}.csv", m[2], int(m[1])
    m = re.fullmatch(r"perturbed/(.+)/(compression-.+)", faceset)
    if m:
        return f"results/manifests/perturbed/{m[1]}/{m[2]}.csv", m[1], None
    return f"results/manifests/{faceset}.csv", faceset, None


def get_shard_manifest(wildcards):
    return _faceset(wildcards.faceset)[0]


def get_shard_options(wildcards):
    return _faceset_options(wildcards.faceset)


def _faceset_options(faceset):
    _, dataset, length = _faceset(faceset)
    options = {**PREPROCESS_OPTIONS.to_dict(), **DATASETS[dataset].get("preprocess", {})}
    if length is not None:
        options["sequence_length"] = length
    return options


def get_faceset_shards(wildcards):
    """Every shard of the face set a gathering rule outputs (counted from its manifest,
    which a checkpoint makes)."""
    faceset = wildcards.dataset
    if "length" in wildcards.keys():
        faceset = f"length-{wildcards.length}/{wildcards.dataset}"
    elif "level" in wildcards.keys():
        faceset = f"perturbed/{wildcards.dataset}/compression-{wildcards.level}"
        manifest = checkpoints.compress_videos.get(
            dataset=wildcards.dataset, level=wildcards.level
        ).output[0]
    if "level" not in wildcards.keys():
        manifest = checkpoints.manifest.get(dataset=wildcards.dataset).output[0]
    n = shard_count(read_manifest(manifest), _faceset_options(faceset)["shard_size"])
    prefix = f"resources/shards/{faceset}/shard-"
    return {
        "manifest": manifest,
        "shards": [f"{prefix}{k}.npz" for k in range(n)],
        "statuses": [f"{prefix}{k}.status.csv" for k in range(n)],
    }


def get_ablation_inputs(wildcards):
    rows = [r for r in ABLATION_ROWS if r["table"] == wildcards.table]
    return [f"results/metrics/{r['experiment']}/{r['dataset']}.json" for r in rows]


def get_experiment(wildcards):
    return EXPERIMENTS[wildcards.experiment]


def get_testset(wildcards):
    return TESTSETS[wildcards.testset]


def all_predictions():
    return [f"results/predictions/{e}/{t}.csv" for e, t in EVALUATIONS]


def get_perturbed_data(wildcards):
    """Clip-level perturbations score the usual shards; video compression scores the
    faces of the re-encoded test videos."""
    dataset = TESTSETS[wildcards.testset]["dataset"]
    if wildcards.perturbation in VIDEO_LEVEL:
        tail = f"{dataset}/{wildcards.perturbation}-{wildcards.level}"
        return {
            "manifest": f"results/manifests/perturbed/{tail}.csv",
            "faces": f"results/faces/perturbed/{tail}",
        }
    return _data_of(dataset, wildcards.experiment)


def get_perturbation(wildcards):
    if wildcards.perturbation in VIDEO_LEVEL:
        return None  # already in the videos
    return [wildcards.perturbation, float(wildcards.level)]


def all_robustness_metrics(experiment=None):
    return [
        f"results/metrics/{e}/{t}/{p}-{lv}.json"
        for e, t, p, lv in ROBUSTNESS
        if experiment is None or e == experiment
    ]


def get_interpret_data(wildcards):
    return _data_of(EXPERIMENTS[wildcards.experiment]["dataset"], wildcards.experiment)


def get_mask_root(wildcards):
    """Demo data sets know the true manipulation masks; real ones do not."""
    ds = DATASETS[EXPERIMENTS[wildcards.experiment]["dataset"]]
    return ds["root"] if ds.get("demo") else None


def all_interpretations():
    return [f"results/interpret/{e}/faithfulness.md" for e in INTERPRETED]


def all_metrics():
    return [f"results/metrics/{e}/{t}.json" for e, t in EVALUATIONS]

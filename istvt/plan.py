"""What a workflow configuration runs: a pure function from a config to the plan.

:func:`make_plan` turns a config (the dict Snakemake loads from ``config/config.yaml``
or a ``--configfile``) into a :class:`Plan`: the data sets and the splits each one
reads, the trained experiments (ablation models included, none trained twice), every
evaluation, the robustness grid, the interpreted models, the report's cells and the
number of jobs of every rule. It touches no file except to ask whether a data set's
root exists; the workflow (``workflow/rules/common.smk``) reads everything it plans
from here, and ``istvt plan`` prints it with its estimated cost (:mod:`istvt.cost`).

Every mistake raises :class:`PlanError` naming the key, before any job starts.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from istvt.ablation import ablation_experiments
from istvt.config import ConfigError, ModelConfig, TrainConfig
from istvt.data.demo import DEMO_LAYOUTS, DemoOptions
from istvt.data.preprocess import PreprocessOptions
from istvt.interpret.settings import DECOMPOSED, FaithfulnessConfig
from istvt.perturb import LEVELS as PERTURBATION_LEVELS
from istvt.perturb import VIDEO_LEVEL
from istvt.perturb import check as check_perturbation
from istvt.report.cells import TABLE1_CELLS, TABLE2_CELLS, parse_cell

#: where a checkout keeps the schema of a workflow config
SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"

EVALUATE_DEFAULTS = {"bootstrap": 1000, "batch_size": 16, "precision": "hardware"}
#: the priority of the data rules (demo data, manifests, face extraction): above every
#: training's (``Plan.train_priority``), so that the faces a training waits for come first
DATA_PRIORITY = 100
THREADS_DEFAULTS = {"train": 8, "evaluate": 1, "interpret": 1}
GPUS_DEFAULTS = {"train": 0, "evaluate": 0, "interpret": 0}
ATTENTION_METHODS = {"lrp", "rollout", "raw_attention"}


class PlanError(ConfigError):
    """An invalid configuration; the message names the key and what to do."""


@dataclass
class Plan:
    """Everything a config runs. Experiments hold plain dicts (``dataset``,
    ``methods``, ``test``, ``model``, ``train``, ``name``, ``seed``) as the workflow's
    params pass them on, keyed by run: one per configured experiment and training seed
    (:func:`run_name`)."""

    config: dict
    model: ModelConfig
    demo: DemoOptions
    train: TrainConfig
    preprocess: PreprocessOptions
    evaluate: dict
    threads: dict
    gpus: dict
    datasets: dict[str, dict]
    missing_roots: list[str]
    testsets: dict[str, dict]
    experiments: dict[str, dict]
    main_experiments: list[str]
    ablation_rows: list[dict]
    report: dict
    robustness: list[tuple[str, str, str, str]]  # experiment, testset, perturbation, level
    interpreted: list[str]
    heatmaps: int
    faithfulness: FaithfulnessConfig
    seeds: list[int] = field(default_factory=lambda: [0])
    splits_used: dict[str, set] = field(default_factory=dict)

    # ------------------------------------------------------------ derived lists
    def seed_runs(self, name: str) -> dict[int, str]:
        """A configured experiment (or ablation model) -> {seed: its run}."""
        return {s: run_name(name, s, self.seeds) for s in self.seeds}

    @property
    def run_names(self) -> dict[str, str]:
        """Run -> the experiment it trains (the name in the config)."""
        return {run: ex["name"] for run, ex in self.experiments.items()}

    @property
    def demo_roots(self) -> list[str]:
        return sorted({ds["root"] for ds in self.datasets.values() if ds.get("demo")})

    @property
    def demo_testset_roots(self) -> dict[str, str]:
        """Test set -> the root of its demo data set (where ``kinds.csv`` may name each
        fake's kind: the DFDC demo)."""
        return {
            t: self.datasets[ts["dataset"]]["root"]
            for t, ts in self.testsets.items()
            if self.datasets[ts["dataset"]].get("demo")
        }

    @property
    def demo_figure(self) -> list[str]:
        return ["results/figures/demo_data.png"] if self.demo_roots else []

    @property
    def evaluations(self) -> list[tuple[str, str]]:
        return [(e, t) for e, ex in self.experiments.items() for t in ex["test"]]

    @property
    def ablation_tables(self) -> list[str]:
        return sorted({r["table"] for r in self.ablation_rows})

    @property
    def training_groups(self) -> dict[str, list[str]]:
        groups = {"main": list(self.main_experiments)}
        rest = [e for e in self.experiments if e not in self.main_experiments]
        if rest:
            groups["ablations"] = rest
        return groups

    @property
    def training_figures(self) -> dict[str, str]:
        names = {"main": "training_curves", "ablations": "training_curves_ablations"}
        return {g: f"results/figures/{names[g]}.png" for g in self.training_groups}

    @property
    def robust_names(self) -> list[str]:
        """The configured experiments of the robustness grid (each over its seeds)."""
        return list(dict.fromkeys(self.experiments[e]["name"] for e, _, _, _ in self.robustness))

    @property
    def interpreted_names(self) -> list[str]:
        """The configured experiments whose relevance maps are measured."""
        return list(dict.fromkeys(self.experiments[e]["name"] for e in self.interpreted))

    @property
    def faithfulness_over_seeds(self) -> list[str]:
        """Tables of faithfulness over seeds (several seeds only)."""
        return (
            [f"results/interpret/{n}/faithfulness_over_seeds.md" for n in self.interpreted_names]
            if len(self.seeds) > 1
            else []
        )

    @property
    def clip_grid(self) -> list[tuple[str, str]]:
        """The clip-level (perturbation, level) grid: one job scores it for a model."""
        return list(
            dict.fromkeys((p, lv) for _, _, p, lv in self.robustness if p not in VIDEO_LEVEL)
        )

    # ------------------------------------------------------------ paths
    def length_of(self, experiment: str | None) -> int | None:
        if experiment is None:
            return None
        return self.experiments[experiment]["model"]["sequence_length"]

    def data_of(self, dataset: str, experiment: str | None = None) -> dict[str, str]:
        """Manifest and face clips of a data set, extracted at the experiment's clip
        length (models of another sequence_length than the model section's get their own)."""
        length = self.length_of(experiment)
        faces = f"results/faces/{dataset}"
        if length is not None and length != self.model.sequence_length:
            faces = f"results/faces/length-{length}/{dataset}"
        return {"manifest": f"results/manifests/{dataset}.csv", "faces": faces}

    def perturbed_data(self, experiment: str, testset: str, perturbation: str, level: str):
        """Clip-level perturbations score the usual clips; video compression scores the
        faces of the re-encoded test videos."""
        dataset = self.testsets[testset]["dataset"]
        if perturbation in VIDEO_LEVEL:
            tail = f"{dataset}/{perturbation}-{level}"
            return {
                "manifest": f"results/manifests/perturbed/{tail}.csv",
                "faces": f"results/faces/perturbed/{tail}",
            }
        return self.data_of(dataset, experiment)

    def train_priority(self, experiment: str) -> int:
        """1-50, larger for a costlier training (epochs, the entry-flow stage's included,
        times the model's MACs per clip), so that a scheduler starts the longest
        trainings first and the short ones fill the cores beside them (rule train's
        ``priority``; data rules rank above every training: ``DATA_PRIORITY``)."""
        costs = self.train_costs
        return max(1, round(50 * costs[experiment] / max(costs.values())))

    @functools.cached_property
    def train_costs(self) -> dict[str, float]:
        """Each experiment's ``train_cost`` (MACs are counted once per architecture)."""
        return {e: train_cost(x) for e, x in self.experiments.items()}

    @staticmethod
    def faceset(faceset: str) -> tuple[str, str, int | None]:
        """A face set's (manifest path, data set, clip length or None)."""
        m = re.fullmatch(r"length-([0-9]+)/(.+)", faceset)
        if m:
            return f"results/manifests/{m[2]}.csv", m[2], int(m[1])
        m = re.fullmatch(r"perturbed/(.+)/(compression-.+)", faceset)
        if m:
            return f"results/manifests/perturbed/{m[1]}/{m[2]}.csv", m[1], None
        return f"results/manifests/{faceset}.csv", faceset, None

    def faceset_options(self, faceset: str) -> dict:
        _, dataset, length = self.faceset(faceset)
        options = self.dataset_preprocess(dataset).to_dict()
        if length is not None:
            options["sequence_length"] = length
        return options

    def dataset_preprocess(self, dataset: str) -> PreprocessOptions:
        return PreprocessOptions.from_dict(
            {**self.preprocess.to_dict(), **self.datasets[dataset].get("preprocess", {})}
        )

    def dataset_splits(self, dataset: str) -> list[str]:
        return sorted(self.splits_used[dataset] or {"train", "val", "test"})

    def robustness_metrics(self, experiment: str | None = None) -> list[str]:
        return [
            f"results/metrics/{e}/{t}/{p}-{lv}.json"
            for e, t, p, lv in self.robustness
            if experiment is None or e == experiment
        ]

    # ------------------------------------------------------------ jobs
    def facesets(self) -> dict[str, str]:
        """Every face set the plan extracts -> its data set: each data set's own clips,
        the same at other clip lengths, and re-encoded test videos."""
        sets = {name: name for name in self.datasets}
        for ex in self.experiments.values():
            length = ex["model"]["sequence_length"]
            if length == self.model.sequence_length:
                continue
            for ds in {ex["dataset"], *(self.testsets[t]["dataset"] for t in ex["test"])}:
                sets[f"length-{length}/{ds}"] = ds
        for _, t, p, lv in self.robustness:
            if p in VIDEO_LEVEL:
                ds = self.testsets[t]["dataset"]
                sets[f"perturbed/{ds}/{p}-{lv}"] = ds
        return sets

    def jobs(self) -> dict[str, int]:
        """Jobs per rule of a run from scratch, as ``snakemake -n`` counts them before
        any manifest exists (``preprocess_shard`` follows the manifests: see
        :meth:`shard_jobs`)."""
        sets = self.facesets()
        video_level = [r for r in self.robustness if r[2] in VIDEO_LEVEL]
        clip_level = {(e, t) for e, t, p, _ in self.robustness if p not in VIDEO_LEVEL}
        jobs = {
            "all": 1,
            "demo_data": len(self.demo_roots),
            "demo_figure": len(self.demo_figure),
            "manifest": len(self.datasets),
            "preprocess": len(self.datasets),
            "preprocess_length": sum(k.startswith("length-") for k in sets),
            "model_card": 1,
            "train": len(self.experiments),
            "evaluate": len(self.evaluations),
            "tables": 1,
            "roc_figure": len(self.experiments),
            "training_figure": 1,
            "summary": 1,
            "interpret": len(self.interpreted),
            "faithfulness_seeds": len(self.faithfulness_over_seeds),
            "ablation_table": len(self.ablation_tables),
            "evaluate_perturbations": len(clip_level),
            "compress_videos": sum(k.startswith("perturbed/") for k in sets),
            "preprocess_perturbed": sum(k.startswith("perturbed/") for k in sets),
            "evaluate_perturbed": len(video_level),
            "robustness": len(self.robust_names),
        }
        return {rule: n for rule, n in jobs.items() if n}

    def shard_jobs(self, videos: dict[str, int]) -> int:
        """``preprocess_shard`` jobs, given the videos each data set's manifest keeps
        (a perturbed face set: its data set's test videos, passed as ``<name>/test``)."""
        total = 0
        for faceset, ds in self.facesets().items():
            key = f"{ds}/test" if faceset.startswith("perturbed/") else ds
            n = videos.get(key)
            if n is None:
                continue
            total += max(1, math.ceil(n / self.dataset_preprocess(ds).shard_size))
        return total


# ---------------------------------------------------------------- construction
def validate_schema(config: dict, schema: Path = SCHEMA) -> None:
    """The config's structure against the workflow's JSON schema (PlanError if not)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    if not schema.is_file():
        return  # an installed package without the workflow: the typed checks remain
    try:
        validate(config, str(schema))
    except WorkflowError as exc:
        raise PlanError(str(exc)) from exc


def _typed(where: str, make):
    try:
        return make()
    except (ConfigError, TypeError, ValueError) as exc:
        raise PlanError(f"{where}: {exc}" if where else str(exc)) from exc


def run_name(name: str, seed: int, seeds: list[int]) -> str:
    """The run of experiment ``name`` with training seed ``seed``: the name itself in a
    one-seed run (the paths of every earlier release), ``<name>/seed-<seed>`` among
    several, so that every seed's model, predictions and logs have their own folder."""
    return name if len(seeds) == 1 else f"{name}/seed-{seed}"


def _seeds(config: dict) -> list[int]:
    if "seeds" in config and "seed" in config and [config["seed"]] != list(config["seeds"]):
        raise PlanError(
            f"seed: {config['seed']} and seeds: {list(config['seeds'])} disagree; give seeds "
            f"only (e.g. --config 'seeds=[{config['seed']}]')"
        )
    seeds = [int(s) for s in config.get("seeds", [config.get("seed", 0)])]
    if not seeds or len(set(seeds)) != len(seeds):
        raise PlanError(f"seeds: {seeds} must list one or more distinct integers")
    return seeds


def _fixed_seeds(config: dict) -> list[str]:
    """The train sections that fix a seed of their own (``...train.seed``)."""
    sections = {"train": config.get("train") or {}}
    sections |= {
        f"experiments.{n}.train": ex.get("train") or {} for n, ex in config["experiments"].items()
    }
    sections["ablations.train"] = (config.get("ablations") or {}).get("train") or {}
    return [f"{where}.seed" for where, section in sections.items() if "seed" in section]


def _per_seed(plan: Plan, seeds: list[int], config: dict) -> None:
    """Each experiment, ablation row, robustness level and interpreted model once per
    training seed (in place). With one seed the runs keep the experiments' names, and
    a ``train.seed`` of an experiment still wins; with several, none may fix its own."""
    fixed = _fixed_seeds(config)
    if len(seeds) > 1 and fixed:
        raise PlanError(
            f"{fixed[0]} fixes one training seed, but seeds lists {len(seeds)}; leave it out"
        )
    plan.seeds = seeds
    runs = {}
    for name, ex in plan.experiments.items():
        for s in seeds:
            train = {**ex["train"], "seed": ex["train"]["seed"] if len(seeds) == 1 else s}
            runs[run_name(name, s, seeds)] = {
                **ex,
                "train": train,
                "name": name,
                "seed": s,  # the plan's seed (a one-seed run may train with its own)
            }
    plan.experiments = runs
    plan.main_experiments = [run_name(n, s, seeds) for n in plan.main_experiments for s in seeds]
    plan.ablation_rows = [
        {**r, "experiment": run_name(r["experiment"], s, seeds), "name": r["experiment"], "seed": s}
        for r in plan.ablation_rows
        for s in seeds
    ]
    plan.robustness = [
        (run_name(e, s, seeds), *rest) for e, *rest in plan.robustness for s in seeds
    ]
    plan.interpreted = [run_name(e, s, seeds) for e in plan.interpreted for s in seeds]


def train_cost(experiment: dict) -> float:
    """A training's relative cost: its epochs (entry-flow stage included) times its
    model's GMACs per clip (a data set's size is not known before its manifest)."""
    from istvt.model.flops import model_gmacs  # torch: only where a plan is costed

    recipe = experiment["train"]
    return (recipe["epochs"] + recipe.get("entry_epochs", 0)) * model_gmacs(experiment["model"])


def make_plan(config: dict, *, require_roots: bool = True) -> Plan:
    """The plan of ``config``. ``require_roots=False`` records data sets whose root is
    missing in ``Plan.missing_roots`` instead of failing (``istvt plan``)."""
    model = _typed("", lambda: ModelConfig.from_dict(config.get("model"), where="config 'model'"))
    demo = _typed("demo", lambda: DemoOptions.from_dict(config.get("demo")))
    seeds = _seeds(config)
    train = _typed(
        "train",
        lambda: TrainConfig.from_dict({"seed": seeds[0], **config.get("train", {})}),
    )
    preprocess = _typed(
        "preprocess",
        lambda: PreprocessOptions.from_dict(
            {
                **config.get("preprocess", {}),
                "sequence_length": model.sequence_length,
                "image_size": model.image_size,
            }
        ),
    )
    evaluate = {**EVALUATE_DEFAULTS, **config.get("evaluate", {})}
    if evaluate["precision"] == "auto":
        raise PlanError(
            "evaluate.precision: auto takes the path measured fastest on the machine at hand, "
            "so a table's numbers would depend on a timing; use hardware (bf16 on GPUs that "
            "have it, fp32 on CPUs) or name a path (fp32, bf16, fp16, int8)"
        )
    datasets, missing = _datasets(config, preprocess, require_roots, demo)
    testsets = {name: {"dataset": name, "methods": None} for name in datasets}
    for name, ts in config.get("testsets", {}).items():
        if ts["dataset"] not in datasets:
            raise PlanError(f"testsets.{name}.dataset = {ts['dataset']!r} is not one of datasets")
        testsets[name] = {"dataset": ts["dataset"], "methods": ts.get("methods")}
    experiments = _experiments(config, model, train, datasets, testsets)
    ablation_rows = _ablations(config, model, train, datasets, experiments)
    interpreted, heatmaps, faithfulness = _interpret(config, experiments)
    plan = Plan(
        config=config,
        model=model,
        demo=demo,
        train=train,
        preprocess=preprocess,
        evaluate=evaluate,
        threads={**THREADS_DEFAULTS, **config.get("threads", {})},
        gpus={**GPUS_DEFAULTS, **config.get("gpus", {})},
        datasets=datasets,
        missing_roots=missing,
        testsets=testsets,
        experiments=experiments,
        main_experiments=list(config["experiments"]),
        ablation_rows=ablation_rows,
        report=_report(config, experiments),
        robustness=_robustness(config, model, experiments),
        interpreted=interpreted,
        heatmaps=heatmaps,
        faithfulness=faithfulness,
    )
    _per_seed(plan, _seeds(config), config)
    plan.splits_used = _splits_used(plan)
    return plan


def _datasets(config, preprocess, require_roots, demo):
    datasets, missing = config["datasets"], []
    for name, ds in datasets.items():
        options = _typed(
            f"datasets.{name}",
            lambda ds=ds: PreprocessOptions.from_dict(
                {**preprocess.to_dict(), **ds.get("preprocess", {})}
            ),
        )
        demo_set = Path(ds["root"]).name if ds.get("demo") else None
        need = demo.min_detect_upsample(demo_set) if demo_set else 0
        if options.faces.detect_upsample < need:
            size = demo.size_of(demo_set)
            raise PlanError(
                f"datasets.{name}: its demo frames ({size} px) show faces of about "
                f"{0.42 * size:.0f} px, below dlib's 80 px; set its preprocess "
                f"detect_upsample >= {need} (or the demo's frame side >= 192)"
            )
        if ds.get("demo"):
            if demo_set not in DEMO_LAYOUTS or ds["root"] != f"resources/demo/{demo_set}":
                raise PlanError(
                    f"datasets.{name}: a demo data set has root resources/demo/<set>, "
                    f"<set> one of {', '.join(DEMO_LAYOUTS)}"
                )
            if ds["layout"] != DEMO_LAYOUTS[demo_set]:
                raise PlanError(
                    f"datasets.{name}: the demo set {demo_set} is written in the "
                    f"{DEMO_LAYOUTS[demo_set]} layout, not {ds['layout']}"
                )
        elif not Path(ds["root"]).is_dir():
            if require_roots:
                raise PlanError(
                    f"datasets.{name}.root = {ds['root']!r} does not exist; "
                    f"point it at your copy of the dataset"
                )
            missing.append(name)
    return datasets, missing


def _experiments(config, model, train, datasets, testsets):
    experiments = {}
    for name, ex in config["experiments"].items():
        if ex["dataset"] not in datasets:
            raise PlanError(
                f"experiments.{name}.dataset = {ex['dataset']!r} is not one of datasets"
            )
        for t in ex["test"]:
            if t not in testsets:
                raise PlanError(
                    f"experiments.{name}.test: {t!r} is neither a dataset nor a testset"
                )
        own_model = _typed(
            f"experiments.{name}",
            lambda ex=ex, name=name: ModelConfig.from_dict(
                {**model.to_dict(), **ex.get("model", {})}, where=f"experiments.{name}.model"
            ),
        )
        own_train = _typed(
            f"experiments.{name}",
            lambda ex=ex: TrainConfig.from_dict({**train.__dict__, **ex.get("train", {})}),
        )
        if own_model.image_size != model.image_size:
            raise PlanError(
                f"experiments.{name}.model: image_size must match the model section (the "
                f"face clips are extracted once, at that size)"
            )
        experiments[name] = {
            "dataset": ex["dataset"],
            "methods": ex.get("methods"),
            "test": list(ex["test"]),
            "model": own_model.to_dict(),
            "train": own_train.__dict__,
        }
    return experiments


def _ablations(config, model, train, datasets, experiments) -> list[dict]:
    """Adds the ablation models to ``experiments``; returns the table rows. A row whose
    model, recipe and data set equal a configured experiment's (usually the base row)
    reads that experiment's model: nothing is trained twice."""
    spec = config.get("ablations")
    ablations, rows = _typed("", lambda: ablation_experiments(spec, model, set(datasets)))
    recipe = _typed(
        "ablations.train",
        lambda: TrainConfig.from_dict({**train.__dict__, **(spec or {}).get("train", {})}),
    )
    same_as = {}
    for name, ex in ablations.items():
        if name in experiments:
            raise PlanError(
                f"ablations: generated experiment {name!r} clashes with experiments.{name}"
            )
        want = {
            "dataset": ex["dataset"],
            "methods": None,
            "model": ex["model"],
            "train": recipe.__dict__,
        }
        twin = next(
            (
                e
                for e, other in experiments.items()
                if ex["dataset"] in other["test"] and all(other[k] == v for k, v in want.items())
            ),
            None,
        )
        if twin is not None:
            same_as[name] = twin
        else:
            experiments[name] = {**want, "test": [ex["dataset"]]}
    return [{**r, "experiment": same_as.get(r["experiment"], r["experiment"])} for r in rows]


def _report(config, experiments) -> dict:
    report = {"table1": {}, "table2": {}, **config.get("report", {})}
    for table, cells in (("table1", TABLE1_CELLS), ("table2", TABLE2_CELLS)):
        for cell, address in report[table].items():
            if cell not in cells:
                raise PlanError(
                    f"report.{table}: unknown cell {cell!r}; cells are {', '.join(cells)}"
                )
            try:
                exp, test, _ = parse_cell(address)
            except ValueError as exc:
                raise PlanError(f"report.{table}.{cell}: {exc}") from exc
            if exp not in experiments or test not in experiments[exp]["test"]:
                raise PlanError(
                    f"report.{table}.{cell} = {address!r}: experiment {exp!r} is not "
                    f"configured or is not evaluated on {test!r}"
                )
    return report


def _robustness(config, model, experiments) -> list[tuple[str, str, str, str]]:
    grid, section = [], config.get("robustness", {})
    for name in section.get("experiments", []):
        if name not in experiments:
            raise PlanError(f"robustness.experiments: {name!r} is not one of experiments")
        if experiments[name]["model"]["sequence_length"] != model.sequence_length:
            raise PlanError(
                f"robustness.experiments: {name!r} must use the model section's sequence_length"
            )
        own = experiments[name]["dataset"]
        if own not in experiments[name]["test"]:
            raise PlanError(
                f"robustness.experiments: {name!r} is not evaluated on its own data set "
                f"{own!r} (add it to experiments.{name}.test: the clean score is the baseline)"
            )
        for p, levels in section.get("perturbations", {}).items():
            if p not in PERTURBATION_LEVELS:
                raise PlanError(
                    f"robustness.perturbations: unknown {p!r}; "
                    f"known: {', '.join(PERTURBATION_LEVELS)}"
                )
            for level in PERTURBATION_LEVELS[p] if levels is None else levels:
                try:
                    check_perturbation(p, level)
                except ValueError as exc:
                    raise PlanError(f"robustness.perturbations.{p}: {exc}") from exc
                grid.append((name, own, p, f"{level:g}"))
    return grid


def _interpret(config, experiments) -> tuple[list[str], int, FaithfulnessConfig]:
    """(interpreted experiments, heatmaps per experiment, faithfulness settings)."""
    section = dict(config.get("interpret", {}))
    chosen = section.pop("experiments", None)
    interpreted = list(config["experiments"]) if chosen is None else list(chosen)
    heatmaps = section.pop("heatmaps", 4)
    faithfulness = _typed("interpret", lambda: FaithfulnessConfig(**section))
    for name in interpreted:
        if name not in experiments:
            raise PlanError(f"interpret.experiments: {name!r} is not one of experiments")
        attention = experiments[name]["model"]["attention"]
        needs = sorted(ATTENTION_METHODS & set(faithfulness.methods))
        if needs and attention not in DECOMPOSED:
            raise PlanError(
                f"interpret: experiment {name!r} uses attention {attention!r}, which has no "
                f"separate temporal and spatial attention for {', '.join(needs)}; leave it out "
                f"of interpret.experiments or set interpret.methods to [gradcam, random]"
            )
    return interpreted, heatmaps, faithfulness


def _splits_used(plan: Plan) -> dict[str, set]:
    """The splits of each data set the plan reads: train and val where a model trains
    on it, test where one is tested on it (its own test split included: robustness and
    interpretation read it). The manifest keeps only those, so a data set used for
    testing alone (the full DFDC: 5,000 test videos beside 119,000 training ones) has
    only its test videos face-extracted."""
    used = {name: set() for name in plan.datasets}
    for ex in plan.experiments.values():
        used[ex["dataset"]] |= {"train", "val", "test"}
        for t in ex["test"]:
            used[plan.testsets[t]["dataset"]].add("test")
    return used


# ---------------------------------------------------------------- the data on disk
def split_problems(plan: Plan, manifests: dict[str, pd.DataFrame]) -> list[str]:
    """Every experiment has videos to train, select and test on: one message per split
    that is empty or holds one class only (data sets with a manifest only)."""
    from istvt.data.manifest import coverage_markdown, coverage_table
    from istvt.data.manifest.coverage import empty_split_message

    problems = []
    for name, ex in plan.experiments.items():
        uses = [(ex["dataset"], s, ex["methods"], None) for s in ("train", "val")]
        uses += [
            (plan.testsets[t]["dataset"], "test", plan.testsets[t]["methods"], t)
            for t in ex["test"]
        ]
        for dataset, split, methods, testset in uses:
            if dataset not in manifests:
                continue
            problem = empty_split_message(manifests[dataset], split, methods)
            if problem:
                manifest = manifests[dataset]
                via = f" (test set {testset!r})" if testset and testset != dataset else ""
                only = f" restricted to {', '.join(methods)}" if methods else ""
                problems.append(
                    f"experiment {name!r}: the {split} split of data set {dataset!r}{via}"
                    f"{only}: {problem}. Check datasets.{dataset}.root and its options "
                    f"against what is on disk:\n\n"
                    + coverage_markdown(coverage_table(manifest), dataset, manifest)
                )
    return problems


def read_datasets(plan: Plan) -> dict[str, pd.DataFrame]:
    """The manifest of every real data set whose root exists (file listings and
    metadata only: seconds even for DFDC); PlanError naming the data set if a layout
    cannot be read."""
    from istvt.data.manifest import ManifestError, build_manifest

    manifests = {}
    for name, ds in plan.datasets.items():
        if ds.get("demo") or name in plan.missing_roots:
            continue
        try:
            manifests[name] = build_manifest(ds["layout"], ds["root"], **ds.get("options", {}))
        except ManifestError as exc:
            raise PlanError(f"datasets.{name} ({ds['layout']} at {ds['root']}): {exc}") from exc
    return manifests

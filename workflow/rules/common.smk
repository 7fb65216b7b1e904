# Glue between the config and the rules: the plan (istvt.plan, a pure function of the
# config, unit-tested without Snakemake), validation that fails before any job runs,
# wildcard constraints and input functions.

import re

from snakemake.utils import validate

from istvt import __version__ as ISTVT_VERSION
from istvt.data.demo import WRITERS as DEMO_LAYOUTS
from istvt.data.manifest import read_manifest
from istvt.data.preprocess import shard_count
from istvt.perturb import LEVELS as PERTURBATION_LEVELS
from istvt.perturb import VIDEO_LEVEL
from istvt.plan import DATA_PRIORITY, PlanError, make_plan, read_datasets, split_problems


def _invalid(message):
    raise WorkflowError(f"invalid configuration: {message}")


try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as exc:
    _invalid(exc)

try:
    PLAN = make_plan(config)
    # Real data sets are read now (file listings and metadata only), so that an
    # unreadable layout or an empty split stops the run before any job starts. Only
    # where the run is planned: a job that Snakemake spawns (on a cluster node) parses
    # this file again and must not list the data sets once per job.
    if getattr(workflow, "is_main_process", True):
        for _problem in split_problems(PLAN, read_datasets(PLAN))[:1]:
            _invalid(_problem)
except PlanError as exc:
    _invalid(exc)

EXPERIMENTS = PLAN.experiments
EVALUATE = PLAN.evaluate
THREADS = PLAN.threads
GPUS = PLAN.gpus


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names)) or "none"


wildcard_constraints:
    dataset=_alternatives(PLAN.datasets),
    experiment=_alternatives(PLAN.experiments),
    name=_alternatives(set(PLAN.run_names.values())),  # an experiment over its seeds
    testset=_alternatives(PLAN.testsets),
    demo=_alternatives(DEMO_LAYOUTS),
    perturbation=_alternatives(PERTURBATION_LEVELS),
    level=r"[0-9][0-9.e+-]*",
    length=r"[0-9]+",
    table=_alternatives(PLAN.ablation_tables),
    shard=r"[0-9]+",
    faceset=rf"(length-[0-9]+/|perturbed/)?({_alternatives(PLAN.datasets)})(/compression-[^/]+)?",


# ---------------------------------------------------------------- input functions
def get_dataset_input(wildcards):
    """The demo data sets are made by rule demo_data; real ones exist already."""
    ds = PLAN.datasets[wildcards.dataset]
    return ds["root"] if ds.get("demo") else []  # resources/demo/<set> (checked by the plan)


def dataset_key(key, default=None):
    return lambda wildcards: PLAN.datasets[wildcards.dataset].get(key, default)


def get_train_data(wildcards):
    return PLAN.data_of(EXPERIMENTS[wildcards.experiment]["dataset"], wildcards.experiment)


def get_test_data(wildcards):
    return PLAN.data_of(PLAN.testsets[wildcards.testset]["dataset"], wildcards.experiment)


def get_faceset_shards(wildcards):
    """Every shard of the face set a gathering rule outputs (counted from its manifest,
    which a checkpoint makes)."""
    faceset = wildcards.dataset
    if "length" in wildcards.keys():
        faceset = f"length-{wildcards.length}/{wildcards.dataset}"
    if "level" in wildcards.keys():
        faceset = f"perturbed/{wildcards.dataset}/compression-{wildcards.level}"
        job = checkpoints.compress_videos.get(dataset=wildcards.dataset, level=wildcards.level)
    else:
        job = checkpoints.manifest.get(dataset=wildcards.dataset)
    manifest = job.output[0]
    n = shard_count(read_manifest(manifest), PLAN.faceset_options(faceset)["shard_size"])
    prefix = f"resources/shards/{faceset}/shard-"
    return {
        "manifest": manifest,
        "shards": [f"{prefix}{k}.npz" for k in range(n)],
        "statuses": [f"{prefix}{k}.status.csv" for k in range(n)],
    }


def get_ablation_inputs(wildcards):
    rows = [r for r in PLAN.ablation_rows if r["table"] == wildcards.table]
    return {
        "metrics": [f"results/metrics/{r['experiment']}/{r['dataset']}.json" for r in rows],
        "predictions": [f"results/predictions/{r['experiment']}/{r['dataset']}.csv" for r in rows],
    }


def get_perturbed_data(wildcards):
    w = wildcards
    return PLAN.perturbed_data(w.experiment, w.testset, w.perturbation, w.level)


def get_robustness_inputs(wildcards):
    """Every seed's clean metrics and perturbed metrics of one experiment, seed by seed
    (the script splits them back by PLAN.seeds)."""
    runs = PLAN.seed_runs(wildcards.name)
    dataset = EXPERIMENTS[runs[PLAN.seeds[0]]]["dataset"]
    return {
        "clean": [f"results/metrics/{runs[s]}/{dataset}.json" for s in PLAN.seeds],
        "perturbed": [f for s in PLAN.seeds for f in PLAN.robustness_metrics(runs[s])],
    }


def get_perturbation(wildcards):
    if wildcards.perturbation in VIDEO_LEVEL:
        return None  # already in the videos
    return [wildcards.perturbation, float(wildcards.level)]


def get_mask_root(wildcards):
    """Demo data sets know the true manipulation masks; real ones do not."""
    ds = PLAN.datasets[EXPERIMENTS[wildcards.experiment]["dataset"]]
    return ds["root"] if ds.get("demo") else None


# ---------------------------------------------------------------- cluster checks
def check_cluster_executor():
    """On Snakemake's Slurm executor: fail before the first submission if the executor
    cannot read job states on this cluster (istvt.cluster.status_command_problem), or
    if a job asks for GPUs on a partition without them."""
    import shutil

    from istvt.cluster import (
        gpu_request_problems,
        partition_gpus,
        slurm_config,
        status_command_problem,
    )

    plugin = getattr(workflow, "executor_plugin", None)
    if plugin is None or getattr(plugin, "name", None) != "slurm":
        return
    settings = workflow.executor_settings
    problem = status_command_problem(
        getattr(settings, "status_command", None),
        slurm_config(),
        getattr(settings, "init_seconds_before_status_checks", None) or 40,
        sacct_installed=shutil.which("sacct") is not None,
    )
    if problem:
        raise WorkflowError(f"Slurm status command: {problem}")
    requests = [
        (job.rule.name, job.resources.get("slurm_partition"), int(job.resources.get("gpu", 0)))
        for job in workflow.dag.needrun_jobs()
        if not job.is_local
    ]
    problems = gpu_request_problems(requests, partition_gpus)
    if problems:
        raise WorkflowError("Slurm GPUs:\n" + "\n".join(problems))


onstart:
    check_cluster_executor()

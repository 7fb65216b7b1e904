# Shared helpers: config validation (fails before any job runs) and provenance params.

from pathlib import Path

from istvt import __version__ as ISTVT_VERSION
from istvt.config import ConfigError, ModelConfig
from istvt.data.demo import DemoOptions
from istvt.data.preprocess import PreprocessOptions

try:
    MODEL_CONFIG = ModelConfig.from_dict(config.get("model"), where="config 'model'")
    DEMO_OPTIONS = DemoOptions.from_dict(config.get("demo"))
    PREPROCESS_OPTIONS = PreprocessOptions.from_dict(
        {
            **config.get("preprocess", {}),
            "sequence_length": MODEL_CONFIG.sequence_length,
            "image_size": MODEL_CONFIG.image_size,
        }
    )
except (ConfigError, TypeError, ValueError) as exc:
    raise WorkflowError(f"invalid configuration: {exc}")

# ---------------------------------------------------------------- datasets
DATASETS = config.get("datasets", {})
for _name, _ds in DATASETS.items():
    if not isinstance(_ds, dict) or "layout" not in _ds or "root" not in _ds:
        raise WorkflowError(
            f"invalid configuration: datasets.{_name} needs 'layout' and 'root' keys"
        )
    try:
        PreprocessOptions.from_dict(
            {**PREPROCESS_OPTIONS.to_dict(), **_ds.get("preprocess", {})}
        )
    except (ConfigError, TypeError, ValueError) as exc:
        raise WorkflowError(f"invalid configuration: datasets.{_name}: {exc}")
    if not _ds.get("demo") and not Path(_ds["root"]).is_dir():
        raise WorkflowError(
            f"invalid configuration: datasets.{_name}.root = {_ds['root']!r} does not "
            f"exist; point it at your copy of the dataset"
        )


wildcard_constraints:
    dataset="|".join(DATASETS) or "none",


def get_dataset_input(wildcards):
    """The demo data sets are made by rule demo_data; real ones exist already."""
    return "resources/demo" if DATASETS[wildcards.dataset].get("demo") else []


def get_dataset_layout(wildcards):
    return DATASETS[wildcards.dataset]["layout"]


def get_dataset_root(wildcards):
    return DATASETS[wildcards.dataset]["root"]


def get_dataset_options(wildcards):
    return DATASETS[wildcards.dataset].get("options", {})


def get_preprocess_options(wildcards):
    """The preprocess section, with the dataset's own overrides (e.g. max_frames)."""
    return {**PREPROCESS_OPTIONS.to_dict(), **DATASETS[wildcards.dataset].get("preprocess", {})}

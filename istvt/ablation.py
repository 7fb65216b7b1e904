"""The paper's ablations (Tables III-V) as ordinary trained experiments.

A config's ``ablations`` section names a grid; :func:`ablation_experiments` turns it
into experiments (each trains on a data set's train/val splits and is tested on its
test split) plus the table rows that read them. Rows whose model is the same (the
base configuration appears in every table) share one trained experiment::

    ablations:
      train: {epochs: 8}                      # overrides of the train section
      attention:                              # Table III
        datasets: {celebdf_demo: celebdf}     # data set -> the paper's column
        variants: [temporal_first+ss, temporal_first, joint]
      sequence_length: {dataset: celebdf_demo, values: [4, 6]}   # Table IV
      num_layers: {dataset: celebdf_demo, values: [1, 2]}        # Table V
"""

from __future__ import annotations

from istvt.config import ATTENTION_VARIANTS, ConfigError, ModelConfig

TABLES = ("attention", "sequence_length", "num_layers")
PAPER_COLUMNS = ("ffpp", "celebdf")


def parse_variant(label: str) -> tuple[str, bool]:
    """'temporal_first+ss' -> ('temporal_first', True)."""
    name, plus, suffix = label.partition("+")
    if name not in ATTENTION_VARIANTS or (plus and suffix != "ss"):
        raise ConfigError(
            f"ablations.attention.variants: {label!r} is not <variant> or <variant>+ss "
            f"with variant one of {', '.join(ATTENTION_VARIANTS)}"
        )
    return name, bool(plus)


def variant_label(cfg: ModelConfig) -> str:
    return cfg.attention + ("+ss" if cfg.self_subtract else "")


def _name(dataset: str, base: ModelConfig, cfg: ModelConfig) -> str:
    parts = []
    if (cfg.attention, cfg.self_subtract) != (base.attention, base.self_subtract):
        parts.append(f"attn-{variant_label(cfg).replace('+', '-')}")  # no '+' in paths
    if cfg.sequence_length != base.sequence_length:
        parts.append(f"T{cfg.sequence_length}")
    if cfg.num_layers != base.num_layers:
        parts.append(f"M{cfg.num_layers}")
    return f"abl-{dataset}-{'-'.join(parts) or 'base'}"


def ablation_experiments(
    spec: dict | None, base: ModelConfig, datasets: set[str]
) -> tuple[dict[str, dict], list[dict]]:
    """(experiments {name: {dataset, model}}, rows [{table, dataset, value, experiment,
    paper_column}]) of an ``ablations`` section; ConfigError naming the key if invalid."""
    spec = dict(spec or {})
    unknown = sorted(set(spec) - {"train", *TABLES})
    if unknown:
        known = ", ".join(("train", *TABLES))
        raise ConfigError(f"ablations: unknown key(s) {unknown}; known: {known}")
    jobs: list[tuple[str, str, object, ModelConfig, str | None]] = []
    att = spec.get("attention")
    if att:
        columns = att.get("datasets") or {}
        for dataset, column in columns.items():
            if column not in PAPER_COLUMNS:
                raise ConfigError(
                    f"ablations.attention.datasets.{dataset}: paper column must be one of "
                    f"{PAPER_COLUMNS}, got {column!r}"
                )
            for label in att.get("variants") or []:
                variant, ss = parse_variant(label)
                where = f"ablations.attention {label}"
                cfg = _model(base, where, attention=variant, self_subtract=ss)
                jobs.append(("attention", dataset, label, cfg, column))
    for key in ("sequence_length", "num_layers"):
        part = spec.get(key)
        if not part:
            continue
        for value in part.get("values") or []:
            cfg = _model(base, f"ablations.{key} {value}", **{key: int(value)})
            jobs.append((key, part.get("dataset"), int(value), cfg, "ffpp"))
    experiments: dict[str, dict] = {}
    rows = []
    for table, dataset, value, cfg, column in jobs:
        if dataset not in datasets:
            raise ConfigError(f"ablations.{table}: data set {dataset!r} is not one of datasets")
        name = _name(dataset, base, cfg)
        experiments.setdefault(name, {"dataset": dataset, "model": cfg.to_dict()})
        rows.append(
            {
                "table": table,
                "dataset": dataset,
                "value": value,
                "experiment": name,
                "paper_column": column,
                "base": cfg == base,  # the full model, which the other rows are tested against
            }
        )
    return experiments, rows


def _model(base: ModelConfig, where: str, **changes) -> ModelConfig:
    try:
        return ModelConfig.from_dict({**base.to_dict(), **changes}, where=where)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc

"""Typed configuration objects, loaded from YAML, with messages that name the bad key.

One name for one thing everywhere: the YAML key, the dataclass field and the CLI flag
are spelled the same (``sequence_length``, ``embed_dim``, ``num_heads``, ``num_layers``...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

#: Attention layouts of the paper's Table III.
ATTENTION_VARIANTS = (
    "temporal_first",  # ISTVT: temporal then spatial attention inside one residual
    "spatial_first",  # spatial then temporal attention inside one residual
    "parallel",  # temporal and spatial attention side by side, summed
    "joint",  # vanilla attention over all (T+1)(HW+1) tokens
    "factorised_encoder",  # ViViT model 2: spatial encoder per frame, then temporal encoder
    "spatial_only",  # spatial attention only
    "temporal_only",  # temporal attention only
)
#: Variants that contain a temporal attention, where self-subtract is defined.
SELF_SUBTRACT_VARIANTS = ("temporal_first", "spatial_first", "parallel", "temporal_only")

#: Initialisations of the transformer part (tokens, position embedding, linear layers).
INIT_SCHEMES = (
    "authors",  # the authors' code: N(0, 1) tokens and position embedding, torch's defaults
    "vit",  # timm's ViT scheme: truncated normal, std 0.02, zero biases (stalls: README)
)
#: What feeds the head: the paper's cls token (0, 0), or the mean of all frame tokens.
READOUTS = ("cls", "mean")

#: Channels of the Xception entry flow output (block3).
ENTRY_FLOW_CHANNELS = 728


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of an ISTVT model.

    Defaults are the paper's full-size model (T=6, M=12, N=8, 300x300, C=728).

    Attributes:
        sequence_length: frames per clip, T.
        num_layers: transformer blocks, M (for ``factorised_encoder``: layers of each of
            its spatial and temporal encoders, as in the authors' ViViT class).
        num_heads: attention heads, N.
        dim_head: width of one head.
        mlp_ratio: FFN hidden width / embed_dim.
        image_size: side of the square face crop fed to the network.
        embed_dim: token width. 728 uses the entry-flow features as tokens directly (the
            paper); any other value adds a linear projection 728 -> embed_dim.
        attention: one of :data:`ATTENTION_VARIANTS`.
        self_subtract: compute temporal queries and keys from frame differences (Eq. 3).
        dropout: dropout inside attention output and FFN (paper: 0).
        xception_weights: ImageNet initialisation of the entry flow: ``"imagenet"``
            (timm's ``legacy_xception`` weights, downloaded once into timm's cache) or a
            local path (timm ``legacy_xception`` or Cadene key names); None: random.
        init: initialisation of the transformer part, one of :data:`INIT_SCHEMES`.
        readout: what feeds the head, one of :data:`READOUTS`.
    """

    sequence_length: int = 6
    num_layers: int = 12
    num_heads: int = 8
    dim_head: int = 64
    mlp_ratio: float = 4.0
    image_size: int = 300
    embed_dim: int = ENTRY_FLOW_CHANNELS
    attention: str = "temporal_first"
    self_subtract: bool = True
    dropout: float = 0.0
    xception_weights: str | None = None
    init: str = "authors"
    readout: str = "cls"

    #: Fields that do not change the architecture (ignored when comparing checkpoints).
    NON_ARCHITECTURE = ("xception_weights", "init")

    def __post_init__(self) -> None:
        for name in ("sequence_length", "num_layers", "num_heads", "dim_head", "embed_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")
        if self.sequence_length < 2 and self.self_subtract:
            raise ConfigError("model.self_subtract needs model.sequence_length >= 2")
        if self.image_size < 40:
            raise ConfigError(
                f"model.image_size must be at least 40 (the entry flow downsamples 16x), "
                f"got {self.image_size!r}"
            )
        if not self.mlp_ratio > 0:
            raise ConfigError(f"model.mlp_ratio must be > 0, got {self.mlp_ratio!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
        if self.attention not in ATTENTION_VARIANTS:
            raise ConfigError(
                f"model.attention: unknown variant {self.attention!r}; "
                f"choose one of {', '.join(ATTENTION_VARIANTS)}"
            )
        if self.init not in INIT_SCHEMES:
            raise ConfigError(
                f"model.init: unknown scheme {self.init!r}; choose one of {', '.join(INIT_SCHEMES)}"
            )
        if self.readout not in READOUTS:
            raise ConfigError(
                f"model.readout: unknown readout {self.readout!r}; choose one of "
                f"{', '.join(READOUTS)}"
            )
        if self.self_subtract and self.attention not in SELF_SUBTRACT_VARIANTS:
            raise ConfigError(
                f"model.self_subtract is only defined for variants with a temporal attention "
                f"({', '.join(SELF_SUBTRACT_VARIANTS)}); set model.self_subtract: false "
                f"for attention {self.attention!r}"
            )

    @property
    def feature_size(self) -> int:
        """Side of the entry-flow feature map (19 at 300x300)."""
        side = (self.image_size - 3) // 2 + 1  # conv1, 3x3 stride 2, no padding
        side -= 2  # conv2, 3x3, no padding
        for _ in range(3):  # block1..3 end in MaxPool(3, stride 2, padding 1)
            side = (side - 1) // 2 + 1
        return side

    @property
    def num_tokens(self) -> int:
        """Tokens per frame row including the spatial cls token (362 at 300x300)."""
        return self.feature_size**2 + 1

    @property
    def mlp_dim(self) -> int:
        return int(round(self.embed_dim * self.mlp_ratio))

    def architecture(self) -> dict[str, Any]:
        """The fields that define the network's shapes and computation."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.NON_ARCHITECTURE}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = "model") -> ModelConfig:
        """Build from a mapping; unknown keys are an error naming the key."""
        data = dict(data or {})
        if data.get("xception_weights") is not None:
            data["xception_weights"] = str(data["xception_weights"])
        for key in ("mlp_ratio", "dropout"):
            if key in data and isinstance(data[key], int) and not isinstance(data[key], bool):
                data[key] = float(data[key])
        return dataclass_from_dict(cls, data, where)


def dataclass_from_dict(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping; unknown keys and bad values name the key."""
    data = dict(data or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known keys are "
            f"{', '.join(sorted(known))}"
        )
    hints = get_type_hints(cls)
    for key, value in data.items():
        # YAML reads 1e-4 (no dot) as a string: numbers in exponent form are common in
        # training configs, so float fields take them; other strings name the key
        if hints.get(key) is float and isinstance(value, str):
            try:
                data[key] = float(value)
            except ValueError:
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}") from None
    try:
        return cls(**data)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with an error naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_model_config(path: str | Path) -> ModelConfig:
    """Load the ``model:`` section of a YAML file (or the whole file if it has none)."""
    data = load_yaml(path)
    section = data.get("model", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: 'model' must be a mapping")
    try:
        return ModelConfig.from_dict(section)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


#: numerics of a training (``train.precision``; evaluation adds int8)
TRAIN_PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: metrics an epoch may be selected on; all but val_loss: higher is better
SELECT_METRICS = ("val_video_acc", "val_video_auc", "val_clip_auc", "val_loss")


#: TrainConfig keys that change speed or memory, not results: a resume ignores them.
LOADER_KEYS = (
    "num_workers",
    "pin_memory",
    "prefetch_factor",
    "activation_checkpointing",
    "checkpoint_minutes",
)


@dataclass(frozen=True)
class TrainConfig:
    """The config's ``train`` section (paper §IV-B.2 defaults where it gives them)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 5e-4
    optimizer: str = "sgd"  # sgd (paper) or adamw
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    balance_classes: bool = False  # weight the BCE so real and fake clips count equally
    warmup_epochs: int = 1
    schedule: str = "cosine"  # after warm-up: cosine decay or constant
    select_metric: str = "val_video_acc"  # the paper selects on validation accuracy
    # epochs the selection metric is averaged over (this one and the ones before it;
    # epochs before the first count at chance level): with 1 a single lucky epoch of a
    # model still at the class prior can win on a small validation split
    select_window: int = 1
    hflip: bool = True
    # clips of each training video per epoch, drawn afresh every epoch (null: all). The
    # clips of one short video are near-duplicates: two of four per epoch give as much
    # signal per CPU second as more epochs over all of them
    clips_per_video: int | None = None
    # the paper's Fig. 8: random dropout of 16x16 squares (sizes of a 300-pixel crop,
    # scaled), the same squares on every frame; with probability dropout_probability
    # a training clip loses 1..dropout_regions squares (0: off)
    dropout_regions: int = 0
    dropout_probability: float = 0.5
    # the entry flow first trains alone for this many epochs, per frame (PerFrameModel:
    # its pooled features, a linear head, frame logits averaged per clip; the same
    # optimiser at entry_lr, warm-up and cosine over these epochs), then the whole model
    # its `epochs` with the head dropped. 0: off (the paper starts from ImageNet weights)
    entry_epochs: int = 0
    entry_lr: float = 1e-3
    # numerics: auto = bf16 autocast on GPUs that have it (fp16 + gradient scaling on
    # older ones) and on CPUs with native bf16 (AVX512-BF16 / AMX), fp32 on other CPUs
    precision: str = "auto"
    # several processes: BatchNorm over the global batch (SyncBatchNorm on GPUs)
    sync_batchnorm: bool = True
    # recompute each transformer block's activations in the backward pass instead of
    # keeping them: less memory (the joint variant at batch 32 on a GPU), same results
    activation_checkpointing: bool = False
    # data loading (speed only: never part of the resume signature)
    num_workers: int = 0
    pin_memory: bool = True  # page-locked batches for asynchronous copies to the GPU
    prefetch_factor: int = 2  # batches each worker loads ahead
    # minutes between mid-epoch saves of the training state (0: at epoch ends only); a
    # job with a wall-time limit also saves and stops before the limit, mid-epoch, and
    # the resumed training is bit-identical to an uninterrupted one (docs/cluster.md)
    checkpoint_minutes: float = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"train.optimizer must be sgd or adamw, got {self.optimizer!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"train.schedule must be cosine or constant, got {self.schedule!r}")
        if self.select_metric not in SELECT_METRICS:
            raise ValueError(
                f"train.select_metric {self.select_metric!r} unknown; choose one of "
                f"{', '.join(SELECT_METRICS)}"
            )
        if self.select_window < 1:
            raise ValueError(f"train.select_window must be >= 1, got {self.select_window}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("train.epochs and train.batch_size must be >= 1")
        if self.precision not in TRAIN_PRECISIONS:
            raise ValueError(
                f"train.precision must be one of {', '.join(TRAIN_PRECISIONS)}, "
                f"got {self.precision!r}"
            )
        if not self.checkpoint_minutes >= 0:
            raise ValueError(
                f"train.checkpoint_minutes must be >= 0 (0: at epoch ends only), got "
                f"{self.checkpoint_minutes}"
            )
        if self.num_workers < 0 or self.prefetch_factor < 1:
            raise ValueError("train.num_workers must be >= 0 and train.prefetch_factor >= 1")
        if self.clips_per_video is not None and self.clips_per_video < 1:
            raise ValueError(
                f"train.clips_per_video must be >= 1 or null, got {self.clips_per_video}"
            )
        if self.entry_epochs < 0 or not self.entry_lr > 0:
            raise ValueError(
                f"train.entry_epochs must be >= 0 and train.entry_lr > 0, got "
                f"{self.entry_epochs} and {self.entry_lr}"
            )
        if self.dropout_regions < 0 or not 0 <= self.dropout_probability <= 1:
            raise ValueError(
                "train.dropout_regions must be >= 0 and train.dropout_probability in [0, 1]"
            )

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainConfig:
        return dataclass_from_dict(cls, data, "train")


def override(config: dict, items: list[str] | None) -> dict:
    """``config`` with Snakemake-style ``--config KEY=VALUE`` overrides applied (top-level
    keys, YAML values, e.g. ``seeds=[0,1,2]``); ValueError naming a malformed item."""
    import yaml

    config = dict(config)
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE, e.g. seeds=[0,1,2]")
        config[key] = yaml.safe_load(value)
    return config

"""The settings of the relevance maps and their faithfulness measures (config section
``interpret``), without torch: the workflow validates them before any job starts."""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("lrp", "rollout", "raw_attention", "gradcam", "random")
#: attention layouts with a temporal and a spatial attention in every block
DECOMPOSED = ("temporal_first", "spatial_first", "parallel")
CLASSES = ("fake", "real")
HEAD_FUSIONS = ("mean_then_clamp", "clamp_then_mean")
READOUTS = ("paper", "grid")

#: rows of the faithfulness table: (name, method, which map of the explanation)
MAPS = {
    "lrp": ("lrp", "joint"),
    "lrp_spatial": ("lrp", "spatial"),
    "lrp_temporal": ("lrp", "temporal"),
    "rollout": ("rollout", "joint"),
    "raw_attention": ("raw_attention", "joint"),
    "gradcam": ("gradcam", "joint"),
    "random": ("random", "joint"),
}
LABELS = {
    "lrp": "ISTVT-LRP (spatial × temporal)",
    "lrp_spatial": "ISTVT-LRP spatial map",
    "lrp_temporal": "ISTVT-LRP temporal map",
    "rollout": "attention rollout",
    "raw_attention": "raw attention (last block)",
    "gradcam": "Grad-CAM (entry flow)",
    "random": "random",
}


#: the ISTVT-LRP settings a variant may change (explain's keywords)
VARIANT_KEYS = ("fusion", "readout", "gradient")
#: measured beside the paper's ISTVT-LRP unless configured otherwise: the grid readout,
#: with and without Eq. 4's gradient (docs/interpretability.md, "Where ISTVT-LRP loses")
DEFAULT_VARIANTS = ({"readout": "grid"}, {"readout": "grid", "gradient": False})


def variant_name(variant: dict) -> str:
    """``lrp[gradient=False,readout=grid]``: the table's name of an ISTVT-LRP variant."""
    return "lrp[" + ",".join(f"{k}={variant[k]}" for k in sorted(variant)) + "]"


def label(name: str) -> str:
    """The table's label of a map name (the fixed maps and the variants)."""
    if name in LABELS:
        return LABELS[name]
    settings = name[len("lrp[") : -1].split(",")
    words = {"gradient=False": "without Eq. 4's gradient", "gradient=True": "with the gradient"}
    return "ISTVT-LRP, " + ", ".join(words.get(s, s.replace("=", " ")) for s in settings)


@dataclass
class FaithfulnessConfig:
    """Settings of :func:`measure` (config section ``interpret``)."""

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    fractions: list[float] = field(default_factory=lambda: [1, 2, 5, 10, 20, 30])  # percent
    target: str = "fake"
    fusion: str = "clamp_then_mean"
    readout: str = "paper"  # paper: Eq. 5's maps; grid: a rollout over the whole token grid
    gradient: bool = True  # Eq. 4's gradient factor in ISTVT-LRP
    # ISTVT-LRP settings measured beside the configured ones, one joint map each
    variants: list[dict] = field(default_factory=lambda: [dict(v) for v in DEFAULT_VARIANTS])
    max_clips: int | None = None  # cap on the clips measured, evenly spaced over the split
    batch_size: int = 8
    seed: int = 0  # random maps and the re-initialised model

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f"interpret.methods: unknown {unknown}; choose from {METHODS}")
        bad = [f for f in self.fractions if not 0 < f < 100]
        if bad:
            raise ValueError(f"interpret.fractions: {bad} are not percentages in (0, 100)")
        if self.readout not in READOUTS:
            raise ValueError(f"interpret.readout: {self.readout!r}; choose from {READOUTS}")
        for v in self.variants:
            unknown = sorted(set(v) - set(VARIANT_KEYS))
            if unknown or not v:
                raise ValueError(
                    f"interpret.variants: {v!r} sets {unknown or 'nothing'}; a variant sets "
                    f"some of {VARIANT_KEYS}"
                )
            if v.get("readout", "paper") not in READOUTS:
                raise ValueError(f"interpret.variants: readout {v['readout']!r} not in {READOUTS}")
            if not isinstance(v.get("gradient", True), bool):
                raise ValueError(
                    f"interpret.variants: gradient {v['gradient']!r} is not true/false"
                )
        if self.max_clips is not None and self.max_clips < 1:
            raise ValueError("interpret.max_clips must be >= 1 or null")

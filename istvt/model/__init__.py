"""The ISTVT network, its attention variants, FLOPs and weight conversion."""

from istvt.model.attention import Attention, self_subtract
from istvt.model.istvt import ISTVT, build_model

__all__ = ["ISTVT", "Attention", "build_model", "self_subtract"]

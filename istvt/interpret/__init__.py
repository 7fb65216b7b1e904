"""Relevance maps of ISTVT (LRP on decomposed attention) and their faithfulness."""

from istvt.interpret.relevance import METHODS, Explanation, explain, upsample

__all__ = ["METHODS", "Explanation", "explain", "upsample"]

"""Relevance maps of ISTVT (LRP on decomposed attention) and their faithfulness.

The names below load :mod:`istvt.interpret.relevance` (and torch) on first use, so that
:mod:`istvt.interpret.settings` stays light for the workflow's config checks.
"""

__all__ = ["METHODS", "Explanation", "explain", "upsample"]


def __getattr__(name: str):
    if name in __all__:
        from istvt.interpret import relevance

        return getattr(relevance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

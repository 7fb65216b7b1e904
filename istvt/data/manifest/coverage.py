"""How much of a data set is on disk: present against expected videos per split, method
and compression, from the official lists, and videos present but in no official split.

Every reader attaches what it knows to the manifest's ``attrs``:

    expected   [{split, method, compression, expected}] from the official lists
    unlisted   [{method, compression, count}] videos on disk that no official list names
    pooled     splits that a reader carves from one official pool (["train", "val"]
               for Celeb-DF, DFDC, ...): expected counts are given for the pool
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from istvt.data.manifest.common import select_videos

KEYS = ["split", "method", "compression"]
UNLISTED = "(in no split)"


def attach(
    df: pd.DataFrame,
    expected: Mapping[tuple[str, str, str], int] | None = None,
    unlisted: Mapping[tuple[str, str], int] | None = None,
    pooled: Iterable[str] = (),
) -> pd.DataFrame:
    """Record a reader's expected and unlisted counts on its manifest (JSON-friendly)."""
    df.attrs["expected"] = [
        {"split": s, "method": m, "compression": c, "expected": int(n)}
        for (s, m, c), n in sorted((expected or {}).items())
    ]
    df.attrs["unlisted"] = [
        {"method": m, "compression": c, "count": int(n)}
        for (m, c), n in sorted((unlisted or {}).items())
        if n
    ]
    df.attrs["pooled"] = list(pooled)
    return df


def coverage_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per split x method x compression: expected, present, missing (expected
    unknown: NaN), then one row per method with videos in no official split."""
    pooled = manifest.attrs.get("pooled") or []
    split = manifest["split"]
    if pooled:
        split = split.where(~split.isin(pooled), "+".join(pooled))
    present = manifest.assign(split=split).groupby(KEYS).size().rename("present")
    expected = pd.DataFrame(
        manifest.attrs.get("expected") or [], columns=[*KEYS, "expected"]
    ).set_index(KEYS)["expected"]
    table = pd.concat([expected, present], axis=1)
    table.index.names = KEYS
    table = table.reset_index()
    table["present"] = table["present"].fillna(0).astype("int64")
    table["missing"] = (table["expected"] - table["present"]).clip(lower=0)
    order = {s: i for i, s in enumerate(["train", "train+val", "val", "test"])}
    table = table.sort_values(
        ["split", "method", "compression"],
        key=lambda c: c.map(order).fillna(9) if c.name == "split" else c,
    ).reset_index(drop=True)
    unlisted = pd.DataFrame(
        manifest.attrs.get("unlisted") or [], columns=["method", "compression", "count"]
    )
    if not unlisted.empty:
        extra = unlisted.rename(columns={"count": "present"}).assign(split=UNLISTED)
        table = pd.concat([table, extra], ignore_index=True)
    return table[[*KEYS, "expected", "present", "missing"]]


def _count(value: Any) -> str:
    return "–" if pd.isna(value) else str(int(value))


def coverage_markdown(
    table: pd.DataFrame, dataset: str, manifest: pd.DataFrame | None = None
) -> str:
    """The coverage table as Markdown: one row per method x compression, one column per
    split with "present / expected" (expected "–" where no official list says), and a
    one-line verdict."""
    listed = table[table.split != UNLISTED]
    known = listed.dropna(subset=["expected"])
    splits = list(dict.fromkeys(listed.split))
    unlisted = table[table.split == UNLISTED]
    head = ["method", "compression", *splits] + ([UNLISTED] if len(unlisted) else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (method, comp), group in table.groupby(["method", "compression"], sort=True):
        cells = []
        for split in splits:
            row = group[group.split == split]
            cells.append(
                "0 / –"
                if row.empty
                else f"{int(row.present.iloc[0])} / {_count(row.expected.iloc[0])}"
            )
        if len(unlisted):
            row = group[group.split == UNLISTED]
            cells.append(str(int(row.present.sum())))
        lines.append(f"| {method} | {comp or '–'} | " + " | ".join(cells) + " |")
    if known.empty:
        verdict = f"{int(listed.present.sum())} videos; no official list to check against"
    else:
        have = int(known.present.clip(upper=known.expected).sum())
        want = int(known.expected.sum())
        verdict = f"{have} of {want} expected videos present ({100 * have / max(want, 1):.1f} %)"
    if len(unlisted):
        verdict += (
            f"; {int(unlisted.present.sum())} video(s) on disk are in no official split "
            f"and are not used"
        )
    if manifest is not None and len(manifest):
        per_split = manifest.groupby("split").size().to_dict()
        verdict += "; in the manifest: " + ", ".join(
            f"{s} {per_split.get(s, 0)}" for s in ("train", "val", "test")
        )
    return "\n".join([f"**{dataset}** (present / expected): {verdict}.", "", *lines, ""])


def empty_split_message(
    manifest: pd.DataFrame, split: str, methods: Iterable[str] | None
) -> str | None:
    """Why ``split`` (restricted to ``methods``) cannot be trained, selected or tested on
    (no videos, or only one class: accuracy alone says nothing, AUC is undefined), or
    None when it can."""
    try:
        rows = select_videos(manifest, split, methods)
    except ValueError as exc:  # a method the data set does not have
        return str(exc)
    if rows.empty:
        return "has no videos"
    for label, kind in ((0, "real"), (1, "fake")):
        if not (rows.label == label).any():
            return f"has no {kind} videos ({len(rows)} {'fake' if label == 0 else 'real'} only)"
    return None

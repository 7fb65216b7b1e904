"""How a demo model scores each kind of fake, split by the photographs its two people
come from. The demo's people are made from two photographs in turn
(``istvt.data.demo.PHOTOS``), so a swap between two people of the same photograph
exchanges two variants of one face (hair, shape, skin and glasses differ, the features
do not): what is left to find is the method's rendering, as in DFDC's swaps of
similar-looking actors. A swap from the other photograph brings other features too.

    python benchmarks/fakes_by_photo.py PREDICTIONS.csv resources/demo/dfdc

PREDICTIONS.csv: ``istvt evaluate``'s predictions of a demo set that records its fakes
(``kinds.csv``: the DFDC demo and the self-blend set). Each row: the AUC of the reals
against one kind's fakes of one pairing, and how many fakes it holds.
"""

from __future__ import annotations

import sys

import pandas as pd
from sklearn.metrics import roc_auc_score

from istvt.data.demo import KINDS_FILE, photograph, read_kinds


def pairing(target: str, source: str) -> str:
    """same photograph, other photograph, or both (a face of nobody made of both)."""
    made_of = photograph(source)
    if made_of == "both":
        return "both photographs"
    return "same photograph" if made_of == photograph(target) else "other photograph"


def table(predictions: pd.DataFrame, kinds: pd.DataFrame) -> pd.DataFrame:
    """``kinds``: :func:`istvt.data.demo.read_kinds`'s rows as a table."""
    kinds = kinds.assign(
        pairing=[pairing(t, s) for t, s in zip(kinds.target, kinds.source, strict=True)]
    )
    scored = predictions.merge(kinds[["video_id", "kind", "pairing"]], on="video_id", how="left")
    reals = scored[scored.label == 0]
    fakes = scored[scored.label == 1]
    if fakes.kind.isna().any():
        missing = fakes.video_id[fakes.kind.isna()].iloc[0]
        raise SystemExit(f"{missing}: a fake with no row in {KINDS_FILE}; wrong demo root?")

    def row(kind: str, pair: str, group: pd.DataFrame) -> dict:
        both = pd.concat([reals, group])
        auc = 100 * roc_auc_score(both.label, both.score)
        return {"kind": kind, "pairing": pair, "fakes": len(group), "AUC %": auc}

    rows = [row(kind, pair, g) for (kind, pair), g in fakes.groupby(["kind", "pairing"])]
    rows += [row("all", pair, g) for pair, g in fakes.groupby("pairing")]
    return pd.DataFrame(rows)


def main(predictions: str, root: str) -> int:
    scores = pd.read_csv(predictions)
    kinds = pd.DataFrame(read_kinds(root))
    if "source" not in kinds:
        raise SystemExit(f"{root}/{KINDS_FILE} has no source column: regenerate the demo data")
    reals = int((scores.label == 0).sum())
    print(f"{predictions}: {reals} real videos")
    print(table(scores, kinds).to_markdown(index=False, floatfmt=".1f"))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

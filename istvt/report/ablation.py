"""Tables III-V: our ablation rows (ACC, AUC, cost of the trained model) beside the
paper's figures."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from istvt.ablation import variant_label
from istvt.config import ModelConfig
from istvt.model.flops import count_macs, paper_results

TITLES = {
    "attention": "Table III: attention variants (+ss: self-subtract)",
    "sequence_length": "Table IV: sequence length T",
    "num_layers": "Table V: depth M",
}
PAPER_KEYS = {"sequence_length": "table4_sequence_length", "num_layers": "table5_depth"}


def _pct(value) -> float:
    return float("nan") if value is None else float(value) * 100


def ablation_table(
    table: str, rows: list[dict], metrics: Mapping[str, dict], models: Mapping[str, dict]
) -> pd.DataFrame:
    """One row per configured ablation row.

    ``metrics``: experiment -> metrics JSON on its data set's test split; ``models``:
    experiment -> model config dict (for our cost).
    """
    paper = paper_results()
    out = []
    for r in rows:
        cfg = ModelConfig.from_dict(models[r["experiment"]])
        m = metrics[r["experiment"]]
        row = {
            "dataset": r["dataset"],
            "row": r["value"],
            "experiment": r["experiment"],
            "acc": _pct(m["video"]["acc"]),
            "auc": _pct(m["video"]["auc"]),
            "videos": m["videos"],
            "gflops": count_macs(cfg).gmacs,
            "paper_acc": np.nan,
            "paper_auc": np.nan,
            "paper_gflops": np.nan,
        }
        if table == "attention":
            ref = paper["table3_variants"].get(variant_label(cfg), {})
            row["paper_acc"] = ref.get(f"{r['paper_column']}_acc", np.nan)
            row["paper_auc"] = ref.get(f"{r['paper_column']}_auc", np.nan)
        else:
            ref = paper[PAPER_KEYS[table]]
            row["paper_auc"] = ref["ffpp_auc"].get(int(r["value"]), np.nan)
            row["paper_gflops"] = ref["gflops"].get(int(r["value"]), np.nan)
        out.append(row)
    return pd.DataFrame(out)


def table_markdown(table: str, frame: pd.DataFrame) -> str:
    """Markdown of one ablation table; our GFLOPs are those of the model as trained
    (the demo's are CPU-sized), the paper's of its full-size model."""

    def fmt(v, digits=1):
        return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"

    head = "| data set | row | ACC % | AUC % | our GFLOPs | paper ACC % | paper AUC % |"
    head += " paper GFLOPs |"
    lines = [f"### {TITLES[table]}", "", head, "|" + "---|" * 8]
    for r in frame.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.row} | {fmt(r.acc)} | {fmt(r.auc)} | {fmt(r.gflops, 2)} | "
            f"{fmt(r.paper_acc)} | {fmt(r.paper_auc)} | {fmt(r.paper_gflops)} |"
        )
    return "\n".join(lines) + "\n"

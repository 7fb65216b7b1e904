"""Tables III-V: our ablation rows (ACC, AUC, cost of the trained model) beside the
paper's figures."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from istvt.ablation import variant_label
from istvt.config import ModelConfig
from istvt.model.flops import count_macs, paper_results
from istvt.report.seeds import compare, diff_text, over_seeds, p_text, spread_text

TITLES = {
    "attention": "Table III: attention variants (+ss: self-subtract)",
    "sequence_length": "Table IV: sequence length T",
    "num_layers": "Table V: depth M",
}
PAPER_KEYS = {"sequence_length": "table4_sequence_length", "num_layers": "table5_depth"}


def _pct(value) -> float:
    return float("nan") if value is None else float(value) * 100


def ablation_table(
    table: str,
    rows: list[dict],
    metrics: Mapping[str, dict],
    models: Mapping[str, dict],
    predictions: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per configured ablation row, over its training seeds (``rows`` carry
    ``name`` and ``seed`` per run; ``acc`` / ``auc`` are means with ``_sd`` and
    ``_seed<s>`` columns), and -- given each run's ``predictions`` -- its AUC against
    the full model's (the table's ``base`` row on the same data set) by DeLong's test
    on the same test videos: ``auc_diff`` [``diff_lo``, ``diff_hi``] and ``p``, pooled
    over seeds, each seed's in ``p_seed<s>``.

    ``metrics``: run -> metrics JSON on its data set's test split; ``models``: run ->
    model config dict (for our cost).
    """
    paper = paper_results()
    out = []
    for r in rows:
        cfg = ModelConfig.from_dict(models[r["experiment"]])
        m = metrics[r["experiment"]]
        row = {
            "dataset": r["dataset"],
            "row": r["value"],
            "experiment": r.get("name", r["experiment"]),
            "seed": r.get("seed", 0),
            "base": bool(r.get("base", False)),
            "acc": _pct(m["video"]["acc"]),
            "auc": _pct(m["video"]["auc"]),
            "videos": m["videos"],
            "precision": m.get("precision", ""),
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
    long = pd.DataFrame(out)
    seeds = sorted(long["seed"].unique().tolist())
    frame = over_seeds(long, ["dataset", "row"], ["acc", "auc"], seeds)
    if predictions is None:
        return frame
    runs = {}  # (dataset, row) -> {seed: predictions}
    for r in rows:
        runs.setdefault((r["dataset"], r["value"]), {})[r.get("seed", 0)] = predictions[
            r["experiment"]
        ]
    records = frame.to_dict("records")
    bases = {b["dataset"]: b for b in records if b["base"]}  # the full model per data set
    tests = []
    for f in records:
        base = bases.get(f["dataset"])
        result = {}
        if base is not None and not f["base"]:
            found = compare(
                runs[(f["dataset"], f["row"])], runs[(base["dataset"], base["row"])], seeds
            )
            pooled = found[-1]
            result = {
                "auc_diff": pooled.get("diff", np.nan),
                "diff_lo": pooled.get("diff_lo", np.nan),
                "diff_hi": pooled.get("diff_hi", np.nan),
                "p": pooled.get("p", np.nan),
                **{
                    f"p_seed{t['seed']}": t.get("p", np.nan) for t in found if t["seed"] != "pooled"
                },
            }
        tests.append(result)
    return pd.concat([frame, pd.DataFrame(tests, index=frame.index)], axis=1)


def table_markdown(table: str, frame: pd.DataFrame) -> str:
    """Markdown of one ablation table; our GFLOPs are those of the model as trained
    (the demo's are CPU-sized), the paper's of its full-size model. Several seeds:
    ACC and AUC as mean ± sd; the test against the full model, where computed."""

    def fmt(v, digits=1):
        return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"

    seeds = [c.rsplit("_seed", 1)[1] for c in frame.columns if c.startswith("auc_seed")]

    def ours(r, col):
        return spread_text([r[f"{col}_seed{s}"] for s in seeds] or [r[col]])

    tested = "p" in frame.columns
    head = "| data set | row | ACC % | AUC % |"
    head += " AUC - full model [95 % CI] | p |" if tested else ""
    head += " our GFLOPs | paper ACC % | paper AUC % | paper GFLOPs |"
    lines = [f"### {TITLES[table]}", ""]
    if len(seeds) > 1:
        lines += [f"Ours: mean ± sd over {len(seeds)} training seeds.", ""]
    if tested:
        lines += [
            "Against the full model (the base row of the same data set): DeLong's test on "
            "the same test videos"
            + (", pooled over seeds (each seed's p in the CSV)." if len(seeds) > 1 else "."),
            "",
        ]
    lines += [head, "|" + "---|" * head.count(" |")]
    for r in frame.to_dict("records"):
        cells = [r["dataset"], str(r["row"]), ours(r, "acc"), ours(r, "auc")]
        if tested:
            if r["base"]:
                cells += ["(full model)", ""]
            else:
                cells += [diff_text({**r, "diff": r.get("auc_diff", np.nan)}), p_text(r["p"])]
        cells += [fmt(r["gflops"], 2), fmt(r["paper_acc"]), fmt(r["paper_auc"])]
        cells += [fmt(r["paper_gflops"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

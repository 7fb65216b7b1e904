"""The Markdown summary of a workflow run: data, training, tables, figures, provenance."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from istvt.provenance import provenance


def _rel(path: str | Path, start: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), start.resolve())).as_posix()


def data_section(faces_dirs: Mapping[str, str | Path]) -> list[str]:
    lines = ["## Data", "", "| data set | videos | clips extracted | not usable (reason: count) |"]
    lines.append("|---|---|---|---|")
    for name, folder in faces_dirs.items():
        status = pd.read_csv(Path(folder) / "status.csv")
        ok = status[status.status == "ok"]
        bad = status[status.status != "ok"].groupby("status").size().to_dict()
        reasons = ", ".join(f"{k}: {v}" for k, v in bad.items()) or "none"
        clips = int(ok["clips_written"].sum())
        lines.append(f"| {name} | {len(status)} | {clips} | {reasons} |")
    return lines + [""]


def coverage_section(coverage: list[str | Path]) -> list[str]:
    """What of each data set is on disk, against its official lists (rule manifest)."""
    if not coverage:
        return []
    lines = [
        "### Coverage",
        "",
        "Videos present against expected from the official lists, per split, method and "
        "compression; videos on disk in no official split are counted, not used. Where a "
        "reader carves validation from the training pool, the pool is one row (train+val).",
        "",
    ]
    for path in coverage:
        lines += [Path(path).read_text().rstrip(), ""]
    return lines


def training_section(logs: Mapping[str, str | Path], experiments: Mapping[str, dict]) -> list[str]:
    lines = [
        "## Training",
        "",
        "Model selected on the validation split (never the test split).",
        "",
        "| experiment | trained on | methods | epochs | selected epoch | val video ACC % | "
        "val video AUC % | time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, path in logs.items():
        log = pd.read_csv(path)
        best = log[log.selected == 1].iloc[-1]
        ex = experiments[name]
        methods = ", ".join(ex.get("methods") or []) or "all"
        seconds = log.seconds.sum()
        took = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
        lines.append(
            f"| {name} | {ex['dataset']} | {methods} | {len(log)} | {int(best.epoch)} | "
            f"{100 * best.val_video_acc:.1f} | {100 * best.val_video_auc:.1f} | "
            f"{took} |"
        )
    return lines + [""]


def interpretability_section(
    interpretations: Mapping[str, Mapping[str, str | Path]], here: Path
) -> list[str]:
    """Faithfulness table, deletion curves and heatmaps of every explained model."""
    if not interpretations:
        return []
    lines = [
        "## Interpretability",
        "",
        "ISTVT-LRP relevance (paper §III-D) against attention rollout, raw attention, "
        "Grad-CAM and random maps, on each model's own test split. Pointing game and mass "
        "in mask use the true manipulation masks (demo data only); randomised ρ is the "
        "rank correlation with the maps of a re-initialised model; acc −p % is the "
        "accuracy after deleting the p % most relevant pixels.",
        "",
    ]
    for name, paths in interpretations.items():
        lines += [f"### {name}", "", Path(paths["table"]).read_text().rstrip(), ""]
        lines += [f"![deletion curves: {name}]({_rel(paths['figure'], here)})", ""]
        heatmaps = sorted(Path(paths["heatmaps"]).glob("*.png"))
        for png in heatmaps:
            lines += [f"![relevance: {png.stem}]({_rel(png, here)})", ""]
    return lines


def write_summary(
    out: str | Path,
    tables: Mapping[str, str | Path],
    figures: Mapping[str, str | Path],
    faces_dirs: Mapping[str, str | Path],
    train_logs: Mapping[str, str | Path],
    experiments: Mapping[str, dict],
    model_cost: str | Path,
    config: dict,
    interpretations: Mapping[str, Mapping[str, str | Path]] | None = None,
    coverage: list[str | Path] | None = None,
    robustness: Mapping[str | Path, str | Path] | None = None,
    ablations: list[str | Path] | None = None,
    over_seeds: list[str | Path] | None = None,
) -> None:
    """Write ``out`` (Markdown); paths inside it are relative to its folder.
    ``over_seeds``: faithfulness tables over training seeds (several seeds only)."""
    out = Path(out)
    here = out.parent
    prov = provenance()
    lines = [
        "# ISTVT reproduction: results",
        "",
        f"Generated {dt.datetime.now().isoformat(timespec='seconds')} by istvt "
        f"{prov['versions'].get('istvt')} at git commit `{prov['git_commit']}`.",
        "",
    ]
    lines += data_section(faces_dirs)
    lines += coverage_section(coverage or [])
    lines += training_section(train_logs, experiments)
    lines += ["## Results", ""]
    for path in tables.values():
        lines += [Path(path).read_text().rstrip(), ""]
    lines += ["## Figures", ""]
    for title, path in figures.items():
        lines += [f"### {title}", "", f"![{title}]({_rel(path, here)})", ""]
    if ablations:
        lines += [
            "## Ablations",
            "",
            "Each row is a model trained and tested like the others; our GFLOPs are those "
            "of the model as trained, the paper's of its full-size model.",
            "",
        ]
        for table in ablations:
            lines += [Path(table).read_text().rstrip(), ""]
    if robustness:
        lines += [
            "## Robustness",
            "",
            "Video-level accuracy and AUC on the model's own test split under test-time "
            "perturbations (istvt.perturb; sizes scaled from the paper's 300-pixel crops), "
            "with the paper's ISTVT accuracy on Celeb-DF (Fig. 6) where it has the level.",
            "",
        ]
        for table, figure in robustness.items():
            lines += [Path(table).read_text().rstrip(), ""]
            lines += [f"![robustness curves]({_rel(figure, here)})", ""]
    lines += interpretability_section(interpretations or {}, here)
    for table in over_seeds or []:
        lines += [Path(table).read_text().rstrip(), ""]
    cost = Path(model_cost).read_text().rstrip().removeprefix("# Cost per clip: ")
    lines += ["## Model cost", "", "Cost per clip: " + cost, ""]
    lines += [
        "## Provenance",
        "",
        "Package versions:",
        "",
        "```json",
        json.dumps(prov["versions"], indent=2),
        "```",
        "",
        "Configuration of this run:",
        "",
        "```yaml",
        yaml.safe_dump(config, sort_keys=False).rstrip(),
        "```",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))

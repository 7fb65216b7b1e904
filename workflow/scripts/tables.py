"""Tables I and II beside the paper's, every experiment x test set, per method, and
paired tests of the models scored on the same test videos (rule tables). Cells are
over training seeds: each run is one experiment's training with one seed."""

import json
import logging
from functools import cache
from pathlib import Path

import pandas as pd

from istvt.data.demo import load_kinds
from istvt.evaluate import read_predictions
from istvt.fsutil import atomic_path
from istvt.report.seeds import paired_tests
from istvt.report.tables import matrix_markdown, per_method, results_matrix, table1, table2

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
pairs = [tuple(p) for p in sm.params.evaluations]
predictions = dict(zip(pairs, sm.input.predictions, strict=True))
metrics = {p: json.loads(Path(f).read_text()) for p, f in zip(pairs, sm.input.metrics, strict=True)}
runs = {run: tuple(v) for run, v in sm.params.runs.items()}  # run -> (experiment, seed)
seeds = list(sm.params.seeds)
experiment_tests = list(dict.fromkeys((runs[r][0], t) for r, t in pairs))


@cache
def load_run(run: str, testset: str) -> pd.DataFrame:
    return read_predictions(predictions[(run, testset)])


def load(experiment: str, testset: str) -> dict[int, pd.DataFrame]:
    """An experiment's predictions on a test set, per training seed."""
    return {
        seed: load_run(run, testset)
        for run, (name, seed) in runs.items()
        if name == experiment and (run, testset) in predictions
    }


def precision(experiment: str, testset: str, seed: int) -> str:
    """The path an evaluation's scores were computed on, from its metrics file."""
    run = next(r for r, v in runs.items() if v == (experiment, seed))
    return metrics[(run, testset)].get("precision", "")


def write(df: pd.DataFrame, md: str, csv_path: str, md_path: str) -> None:
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(md_path) as tmp:
        tmp.write_text(md)
    logging.info("wrote %s and %s", csv_path, md_path)


report = sm.params.report
bootstrap = sm.params.bootstrap
tables = {"table1": table1, "table2": table2}
for key, make in tables.items():
    out = make(report[key], load, bootstrap, precision)
    write(*out, getattr(sm.output, key), getattr(sm.output, f"{key}_md"))
matrix = results_matrix(metrics, sm.params.train_sets, runs)
write(matrix, matrix_markdown(matrix), sm.output.matrix, sm.output.matrix_md)
kinds = {t: load_kinds(root) for t, root in sm.params.demo_roots.items()}
write(
    *per_method(experiment_tests, load, kinds, bootstrap),
    sm.output.per_method,
    sm.output.per_method_md,
)
write(*paired_tests(experiment_tests, load, seeds), sm.output.paired, sm.output.paired_md)

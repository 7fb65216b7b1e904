"""The Markdown summary of the run, results/report.md (rule summary)."""

import logging

from istvt.report.summary import write_summary

sm = snakemake  # noqa: F821  (injected by Snakemake)
logging.basicConfig(
    filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
)
experiments = sm.params.experiments
figures = {}
for path in sm.input.demo_figure:  # where the run generated the demo data
    figures["Demo data: every identity, one fake per method beside its real"] = path
figures |= {f"ROC curves: {e}": p for e, p in zip(experiments, sm.input.figures, strict=True)}
for path in sm.input.training:
    figures["Training curves: ablation models" if "ablations" in path else "Training curves"] = path
write_summary(
    sm.output[0],
    tables={k: sm.input[k] for k in ("table1", "table2", "matrix", "per_method", "paired")},
    figures=figures,
    faces_dirs={p.split("/")[-1]: p for p in sm.input.status},
    coverage=list(sm.input.coverage),
    train_logs=dict(zip(experiments, sm.input.train_logs, strict=True)),
    experiments=experiments,
    model_cost=sm.input.model_cost,
    config=sm.config,
    ablations=list(sm.input.ablation_tables),
    over_seeds=list(sm.input.faithfulness_seeds),
    robustness=dict(zip(sm.input.robustness_tables, sm.input.robustness_figures, strict=True)),
    interpretations={
        e: {"table": t, "figure": f, "heatmaps": h}
        for e, t, f, h in zip(
            sm.params.interpreted,
            sm.input.interpret_tables,
            sm.input.interpret_figures,
            sm.input.heatmaps,
            strict=True,
        )
    },
)
logging.info("wrote %s", sm.output[0])

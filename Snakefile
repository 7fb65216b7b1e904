# ISTVT reproduction workflow: a table of contents, one .smk per stage.
#
#   snakemake --cores all                       # default config: embedded demo, CPU-sized
#   snakemake --cores all --configfile config/paper.yaml  # the paper's protocol, real data
#   snakemake --report results/report.html      # self-contained HTML report afterwards
#
# A --configfile replaces the default config instead of being merged into it key by key
# (Snakemake's own behaviour), so a user's config runs its data sets and experiments
# only; --config key=value still overrides either.


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/robustness.smk"
include: "workflow/rules/report.smk"


# Quick bookkeeping jobs run where Snakemake runs, never queued on a cluster.
localrules:
    all,
    manifest,
    demo_figure,
    preprocess,
    preprocess_length,
    preprocess_perturbed,
    model_card,
    tables,
    roc_figure,
    training_figure,
    ablation_table,
    faithfulness_seeds,
    robustness,
    summary,


rule all:
    default_target: True
    input:
        "results/report.md",

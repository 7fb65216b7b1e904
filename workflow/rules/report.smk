# Tables beside the paper's, figures, and the Markdown summary of a run.


rule tables:
    input:
        predictions=[f"results/predictions/{e}/{t}.csv" for e, t in PLAN.evaluations],
        metrics=[f"results/metrics/{e}/{t}.json" for e, t in PLAN.evaluations],
    output:
        table1=report(
            "results/tables/table1_in_dataset.csv",
            caption="../report/table1.rst",
            category="Results",
            subcategory="Tables",
        ),
        table1_md="results/tables/table1_in_dataset.md",
        table2=report(
            "results/tables/table2_cross_dataset.csv",
            caption="../report/table2.rst",
            category="Results",
            subcategory="Tables",
        ),
        table2_md="results/tables/table2_cross_dataset.md",
        matrix=report(
            "results/tables/all_results.csv",
            caption="../report/all_results.rst",
            category="Results",
            subcategory="Tables",
        ),
        matrix_md="results/tables/all_results.md",
        per_method=report(
            "results/tables/per_method.csv",
            caption="../report/per_method.rst",
            category="Results",
            subcategory="Tables",
        ),
        per_method_md="results/tables/per_method.md",
        paired=report(
            "results/tables/paired_tests.csv",
            caption="../report/paired_tests.rst",
            category="Results",
            subcategory="Tables",
        ),
        paired_md="results/tables/paired_tests.md",
    params:
        evaluations=PLAN.evaluations,
        runs={run: [ex["name"], ex["seed"]] for run, ex in EXPERIMENTS.items()},
        seeds=PLAN.seeds,
        report=PLAN.report,
        train_sets={e: ex["dataset"] for e, ex in EXPERIMENTS.items()},
        testsets=PLAN.testsets,
        demo_roots=PLAN.demo_testset_roots,
        bootstrap=EVALUATE["bootstrap"],
        istvt_version=ISTVT_VERSION,
    log:
        "logs/tables.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/tables.py"


rule roc_figure:
    input:
        predictions=lambda w: [
            f"results/predictions/{w.experiment}/{t}.csv" for t in EXPERIMENTS[w.experiment]["test"]
        ],
    output:
        report(
            "results/figures/roc_{experiment}.png",
            caption="../report/roc.rst",
            category="Results",
            subcategory="ROC curves",
            labels={"experiment": "{experiment}"},
        ),
    params:
        testsets=lambda w: EXPERIMENTS[w.experiment]["test"],
        istvt_version=ISTVT_VERSION,
    log:
        "logs/roc_figure/{experiment}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/roc_figure.py"


rule training_figure:
    input:
        logs=expand("results/models/{experiment}/train_log.csv", experiment=EXPERIMENTS),
    output:
        **{
            group: report(
                path,
                caption="../report/training_curves.rst",
                category="Training",
                labels={"models": group},
            )
            for group, path in PLAN.training_figures.items()
        },
    params:
        experiments=list(EXPERIMENTS),
        groups=PLAN.training_groups,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/training_figure.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/training_figure.py"


rule summary:
    input:
        table1=rules.tables.output.table1_md,
        table2=rules.tables.output.table2_md,
        matrix=rules.tables.output.matrix_md,
        per_method=rules.tables.output.per_method_md,
        paired=rules.tables.output.paired_md,
        model_cost="results/tables/model_cost.md",
        model_summary="results/model/summary.json",
        figures=expand("results/figures/roc_{experiment}.png", experiment=EXPERIMENTS),
        training=list(PLAN.training_figures.values()),
        demo_figure=PLAN.demo_figure,
        train_logs=expand("results/models/{experiment}/train_log.csv", experiment=EXPERIMENTS),
        status=expand("results/faces/{dataset}", dataset=PLAN.datasets),
        coverage=expand("results/manifests/{dataset}.coverage.md", dataset=PLAN.datasets),
        interpret_tables=expand("results/interpret/{experiment}/faithfulness.md", experiment=PLAN.interpreted),
        interpret_figures=expand("results/figures/deletion_{experiment}.png", experiment=PLAN.interpreted),
        heatmaps=expand("results/interpret/{experiment}/heatmaps", experiment=PLAN.interpreted),
        faithfulness_seeds=PLAN.faithfulness_over_seeds,
        ablation_tables=expand("results/tables/ablation_{table}.md", table=PLAN.ablation_tables),
        robustness_tables=expand(
            "results/tables/robustness_{name}.md", name=PLAN.robust_names
        ),
        robustness_figures=expand(
            "results/figures/robustness_{name}.png", name=PLAN.robust_names
        ),
    output:
        "results/report.md",
    params:
        interpreted=PLAN.interpreted,
        config=config,
        experiments=EXPERIMENTS,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/summary.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/summary.py"


rule ablation_table:
    input:
        unpack(get_ablation_inputs),
    output:
        table=report(
            "results/tables/ablation_{table}.csv",
            caption="../report/ablation.rst",
            category="Ablations",
            labels={"table": "{table}"},
        ),
        markdown="results/tables/ablation_{table}.md",
    params:
        rows=lambda w: [r for r in PLAN.ablation_rows if r["table"] == w.table],
        models={e: ex["model"] for e, ex in EXPERIMENTS.items()},
        istvt_version=ISTVT_VERSION,
    log:
        "logs/ablation_table/{table}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/ablation_table.py"

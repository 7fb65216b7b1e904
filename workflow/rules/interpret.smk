# Interpretability: relevance maps of every trained model on its own test split, how
# faithful they are (deletion, true-mask localisation, model randomisation) and
# heatmap figures in the paper's Fig. 9 layout.


rule interpret:
    input:
        unpack(get_train_data),
        model="results/models/{experiment}/best_model.pth",
    output:
        table=report(
            "results/interpret/{experiment}/faithfulness.csv",
            caption="../report/faithfulness.rst",
            category="Interpretability",
            labels={"experiment": "{experiment}", "what": "faithfulness table"},
        ),
        markdown="results/interpret/{experiment}/faithfulness.md",
        record="results/interpret/{experiment}/faithfulness.json",
        deletion="results/interpret/{experiment}/deletion.csv",
        figure=report(
            "results/figures/deletion_{experiment}.png",
            caption="../report/deletion.rst",
            category="Interpretability",
            labels={"experiment": "{experiment}", "what": "deletion curves"},
        ),
        heatmaps=report(
            directory("results/interpret/{experiment}/heatmaps"),
            patterns=["{video}.png"],
            caption="../report/heatmaps.rst",
            category="Interpretability",
            labels={"experiment": "{experiment}", "what": "heatmaps: {video}"},
        ),
    params:
        faithfulness=PLAN.faithfulness,
        heatmaps=PLAN.heatmaps,
        methods=lambda w: EXPERIMENTS[w.experiment]["methods"],
        mask_root=get_mask_root,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/interpret/{experiment}.log",
    benchmark:
        "benchmarks/interpret/{experiment}.tsv"
    threads: THREADS["interpret"]
    resources:
        gpu=GPUS["interpret"],
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/interpret.py"


rule faithfulness_seeds:  # with several training seeds: one table over them
    input:
        lambda w: [
            f"results/interpret/{run}/faithfulness.csv" for run in PLAN.seed_runs(w.name).values()
        ],
    output:
        table=report(
            "results/interpret/{name}/faithfulness_over_seeds.csv",
            caption="../report/faithfulness.rst",
            category="Interpretability",
            labels={"experiment": "{name}", "what": "faithfulness over seeds"},
        ),
        markdown="results/interpret/{name}/faithfulness_over_seeds.md",
    params:
        seeds=PLAN.seeds,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/faithfulness_seeds/{name}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/faithfulness_seeds.py"

# Robustness (paper §IV-D, Fig. 6, and the LipForensics / DeeperForensics suite): the
# test split of a model's own data set under perturbations, one metrics file per level.
# Clip-level perturbations act on the aligned test clips, all levels of a model in one
# job; video compression re-encodes the test videos and extracts their faces again.


checkpoint compress_videos:  # its manifest decides the shards
    input:
        "results/manifests/{dataset}.csv",
    output:
        "results/manifests/perturbed/{dataset}/compression-{level}.csv",
    params:
        videos="resources/perturbed/{dataset}/compression-{level}",
        root=dataset_key("root"),
        istvt_version=ISTVT_VERSION,
    log:
        "logs/compress_videos/{dataset}/compression-{level}.log",
    benchmark:
        "benchmarks/compress_videos/{dataset}/compression-{level}.tsv"
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/compress_videos.py"


rule preprocess_perturbed:
    input:
        unpack(get_faceset_shards),
    output:
        directory("results/faces/perturbed/{dataset}/compression-{level}"),
    log:
        "logs/preprocess/perturbed/{dataset}/compression-{level}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/gather_faces.py"


if PLAN.clip_grid:

    rule evaluate_perturbations:
        input:
            unpack(get_test_data),
            model="results/models/{experiment}/best_model.pth",
        output:
            predictions=[
                f"results/predictions/{{experiment}}/{{testset}}/{p}-{lv}.csv"
                for p, lv in PLAN.clip_grid
            ],
            metrics=[
                f"results/metrics/{{experiment}}/{{testset}}/{p}-{lv}.json"
                for p, lv in PLAN.clip_grid
            ],
        params:
            testset=lambda w: PLAN.testsets[w.testset],
            evaluate=EVALUATE,
            seed=lambda w: EXPERIMENTS[w.experiment]["seed"],  # the run's: its bootstrap
            grid=PLAN.clip_grid,
            istvt_version=ISTVT_VERSION,
        log:
            "logs/evaluate/{experiment}/{testset}/perturbations.log",
        benchmark:
            "benchmarks/evaluate_perturbations/{experiment}/{testset}.tsv"
        threads: THREADS["evaluate"]
        resources:
            gpu=GPUS["evaluate"],
        conda:
            "../../envs/istvt.yaml"
        script:
            "../scripts/evaluate_perturbations.py"


rule evaluate_perturbed:  # video-level perturbations: their own faces per level
    input:
        unpack(get_perturbed_data),
        model="results/models/{experiment}/best_model.pth",
    output:
        predictions="results/predictions/{experiment}/{testset}/{perturbation}-{level}.csv",
        metrics="results/metrics/{experiment}/{testset}/{perturbation}-{level}.json",
    params:
        testset=lambda w: PLAN.testsets[w.testset],
        evaluate=EVALUATE,
        seed=lambda w: EXPERIMENTS[w.experiment]["seed"],  # the run's: its bootstrap
        perturbation=get_perturbation,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/evaluate/{experiment}/{testset}/{perturbation}-{level}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}/{testset}/{perturbation}-{level}.tsv"
    wildcard_constraints:
        perturbation="|".join(VIDEO_LEVEL),
    threads: THREADS["evaluate"]
    resources:
        gpu=GPUS["evaluate"],
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/evaluate.py"


rule robustness:  # one per configured experiment, over its training seeds
    input:
        unpack(get_robustness_inputs),
    output:
        table=report(
            "results/tables/robustness_{name}.csv",
            caption="../report/robustness.rst",
            category="Robustness",
            labels={"experiment": "{name}", "what": "table"},
        ),
        markdown="results/tables/robustness_{name}.md",
        figure=report(
            "results/figures/robustness_{name}.png",
            caption="../report/robustness.rst",
            category="Robustness",
            labels={"experiment": "{name}", "what": "curves"},
        ),
    params:
        seeds=PLAN.seeds,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/robustness/{name}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/robustness.py"

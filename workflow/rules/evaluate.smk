# Evaluation: every trained model on each of its test sets (in- and cross-dataset).


rule evaluate:
    input:
        unpack(get_test_data),
        model="results/models/{experiment}/best_model.pth",
    output:
        predictions="results/predictions/{experiment}/{testset}.csv",
        metrics="results/metrics/{experiment}/{testset}.json",
    params:
        testset=lambda w: PLAN.testsets[w.testset],
        evaluate=EVALUATE,
        seed=lambda w: EXPERIMENTS[w.experiment]["seed"],  # the run's: its bootstrap
        istvt_version=ISTVT_VERSION,
    log:
        "logs/evaluate/{experiment}/{testset}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}/{testset}.tsv"
    threads: THREADS["evaluate"]
    resources:
        gpu=GPUS["evaluate"],
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/evaluate.py"

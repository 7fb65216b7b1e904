# Training: one model per configured experiment, selected on its validation split.


rule train:
    input:
        unpack(get_train_data),
    output:
        model="results/models/{experiment}/best_model.pth",
        log_csv="results/models/{experiment}/train_log.csv",
    params:
        experiment=lambda w: EXPERIMENTS[w.experiment],
        state="resources/work/train/{experiment}/state.pt",
        istvt_version=ISTVT_VERSION,
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "benchmarks/train/{experiment}.tsv"
    threads: THREADS["train"]  # capped at --cores; torch uses this many threads
    priority: lambda w: PLAN.train_priority(w.experiment)  # the longest trainings first
    resources:
        mem_mb=8000,
        # Snakemake's attempt of this job: 2 and later resume a stopped training
        attempt=lambda wildcards, attempt: attempt,
        # > 1: torchrun with one data-parallel process per GPU on one node
        gpu=GPUS["train"],
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/train.py"

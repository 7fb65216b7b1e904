# Data stages: the embedded demo data (when configured), manifests, aligned face clips.


rule demo_data:
    output:
        directory("resources/demo/{demo}"),
    params:
        options=PLAN.demo.__dict__,
        istvt_version=ISTVT_VERSION,
    priority: DATA_PRIORITY  # the faces every training waits for first
    log:
        "logs/demo_data/{demo}.log",
    benchmark:
        "benchmarks/demo_data/{demo}.tsv"
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/demo_data.py"


rule demo_figure:  # every demo identity, and one fake per method beside its real
    input:
        PLAN.demo_roots,
    output:
        "results/figures/demo_data.png",
    log:
        "logs/demo_figure.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/demo_figure.py"


checkpoint manifest:  # a checkpoint: its row count decides the preprocessing shards
    input:
        get_dataset_input,
    output:
        "results/manifests/{dataset}.csv",
        coverage="results/manifests/{dataset}.coverage.csv",
        coverage_md="results/manifests/{dataset}.coverage.md",
    params:
        layout=dataset_key("layout"),
        root=dataset_key("root"),
        options=dataset_key("options", {}),
        splits=lambda w: PLAN.dataset_splits(w.dataset),
        istvt_version=ISTVT_VERSION,
    priority: DATA_PRIORITY
    log:
        "logs/manifest/{dataset}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/manifest.py"


# Face extraction fans out: one job per shard of `preprocess.shard_size` videos (on a
# cluster, one node each), for every face set: a data set's clips ({dataset}), the same
# at another clip length (length-{T}/{dataset}), and re-encoded test videos
# (perturbed/{dataset}/compression-{crf}). The rules below gather a set's shards.
rule preprocess_shard:
    input:
        manifest=lambda w: PLAN.faceset(w.faceset)[0],
    output:
        shard="resources/shards/{faceset}/shard-{shard}.npz",
        status="resources/shards/{faceset}/shard-{shard}.status.csv",
    params:
        options=lambda w: PLAN.faceset_options(w.faceset),
        istvt_version=ISTVT_VERSION,
    priority: DATA_PRIORITY  # the faces every training waits for first
    log:
        "logs/preprocess/{faceset}/shard-{shard}.log",
    benchmark:
        "benchmarks/preprocess_shard/{faceset}/shard-{shard}.tsv"
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/preprocess_shard.py"


rule preprocess:
    input:
        unpack(get_faceset_shards),
    output:
        directory("results/faces/{dataset}"),
    priority: DATA_PRIORITY  # the faces every training waits for first
    log:
        "logs/preprocess/{dataset}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/gather_faces.py"


rule preprocess_length:
    input:
        unpack(get_faceset_shards),
    output:
        directory("results/faces/length-{length}/{dataset}"),
    priority: DATA_PRIORITY
    log:
        "logs/preprocess/length-{length}/{dataset}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/gather_faces.py"

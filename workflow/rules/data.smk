# Data stages: the embedded demo data (when configured), manifests, aligned face clips.


rule demo_data:
    output:
        directory("resources/demo/{demo}"),
    params:
        options=DEMO_OPTIONS.__dict__,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/demo_data/{demo}.log",
    benchmark:
        "benchmarks/demo_data/{demo}.tsv"
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/demo_data.py"


rule manifest:
    input:
        get_dataset_input,
    output:
        "results/manifests/{dataset}.csv",
    params:
        layout=get_dataset_layout,
        root=get_dataset_root,
        options=get_dataset_options,
        istvt_version=ISTVT_VERSION,
    log:
        "logs/manifest/{dataset}.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/manifest.py"


rule preprocess:
    input:
        "results/manifests/{dataset}.csv",
    output:
        directory("results/faces/{dataset}"),
    params:
        options=get_preprocess_options,
        work="resources/work/faces/{dataset}",
        istvt_version=ISTVT_VERSION,
    log:
        "logs/preprocess/{dataset}.log",
    benchmark:
        "benchmarks/preprocess/{dataset}.tsv"
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/preprocess.py"


rule preprocess_length:
    input:
        "results/manifests/{dataset}.csv",
    output:
        directory("results/faces/length-{length}/{dataset}"),
    params:
        options=get_length_options,
        work="resources/work/faces/length-{length}/{dataset}",
        istvt_version=ISTVT_VERSION,
    log:
        "logs/preprocess/length-{length}/{dataset}.log",
    benchmark:
        "benchmarks/preprocess/length-{length}/{dataset}.tsv"
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/preprocess.py"

# ISTVT reproduction workflow: a table of contents, one .smk per stage.
#
#   snakemake --cores all                       # default config: embedded demo, CPU-sized
#   snakemake --cores all --configfile config/paper.yaml   (arrives with the data stages)


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/data.smk"


rule all:
    default_target: True
    input:
        "results/tables/model_cost.md",
        "results/model/summary.json",
        expand("results/faces/{dataset}", dataset=DATASETS),

# The network itself: its cost beside the paper's Tables IV-V, and a model summary.


rule model_card:
    output:
        table=report(
            "results/tables/model_cost.md",
            caption="../report/model_cost.rst",
            category="Model",
        ),
        csv="results/tables/model_cost.csv",
        summary="results/model/summary.json",
    params:
        model=PLAN.model.to_dict(),
        istvt_version=ISTVT_VERSION,
    log:
        "logs/model_card.log",
    conda:
        "../../envs/istvt.yaml"
    script:
        "../scripts/model_card.py"

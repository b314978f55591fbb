# Baselines the CNN is judged against (docs/paper.md): a random forest on the g, r, i
# model magnitudes and the training mean. Both learn from every non-test galaxy
# (split == "train": all k folds, training and validation parts together), the
# rows the CNN fold ensemble saw, and predict the same test galaxies.


localrules:
    baselines_mean,


rule baselines_rf:
    input:
        catalog=CATALOG,
        splits=SPLITS,
    output:
        BASELINE.format(method="rf", target="{target}"),
    log:
        log_path("baselines_rf", "{target}"),
    benchmark:
        bench_path("baselines_rf", "{target}")
    conda:
        "../envs/analysis.yaml"
    threads: 4
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        rf=canonical(config["rf"]),
        seed=config["seed"],
    script:
        "../workflow/scripts/baselines_rf.py"


rule baselines_mean:
    input:
        catalog=CATALOG,
        splits=SPLITS,
    output:
        BASELINE.format(method="mean", target="{target}"),
    log:
        log_path("baselines_mean", "{target}"),
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../workflow/scripts/baselines_mean.py"

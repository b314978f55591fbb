# The seeded train/test split and k folds over the galaxies that have a usable image.


rule splits:
    input:
        IMAGE_INDEX,
    output:
        SPLITS,
    params:
        split=canonical({"folds": config["folds"], "seed": config["seed"], "test_fraction": config["test_fraction"]}),
    log:
        log_path("splits"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/splits.py"


localrules:
    splits,

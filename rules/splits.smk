# The train/test split and k folds over the galaxies that have a usable image: a seeded random
# test set, or (test_set: reference) exactly the published test galaxies.


rule splits:
    input:
        unpack(splits_inputs),
    output:
        SPLITS,
    params:
        split=canonical(
            {"folds": config["folds"], "seed": config["seed"], "test_fraction": config["test_fraction"], "test_set": config["test_set"]}
        ),
    log:
        log_path("splits"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/splits.py"


localrules:
    splits,

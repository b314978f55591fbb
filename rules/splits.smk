# The train/test split and k folds over the galaxies that have a usable image: a seeded random
# test set, or (test_set: reference) exactly the published test galaxies.


rule splits:
    input:
        unpack(splits_inputs),
    output:
        SPLITS,
    log:
        log_path("splits"),
    conda:
        "../envs/data.yaml"
    params:
        split=canonical(split_settings()),
    script:
        "../workflow/scripts/splits.py"


localrules:
    splits,


# Enough galaxies per target and fold to train and score a model (galcnn/sufficiency.py),
# checked once per target before any of its models trains; one target per job, so adding a
# target retrains nothing else. The highest priority: it runs as soon as the splits exist.
rule splits_check:
    input:
        splits=SPLITS,
        index=IMAGE_INDEX,
        catalog=CATALOG,
    output:
        SPLIT_COUNTS,
    log:
        log_path("splits_check", "{target}"),
    priority: 100
    conda:
        "../envs/data.yaml"
    params:
        batch_size=config["train"]["batch_size"],
        survey=config["survey"],
    script:
        "../workflow/scripts/splits_check.py"


localrules:
    splits_check,

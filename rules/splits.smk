# The train/test split and k folds over the galaxies that have a usable image: a seeded random
# test set, or (test_set: reference) exactly the published test galaxies.


rule splits:
    input:
        unpack(splits_inputs),
    output:
        SPLITS,
    params:
        split=canonical(split_settings()),
    log:
        log_path("splits"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/splits.py"


localrules:
    splits,

# Predictions of every trained model with test-time augmentation, then the k-fold ensemble.


rule predict_cnn:
    input:
        model=MODEL_PT,
        images=IMAGES,
        index=IMAGE_INDEX,
        splits=SPLITS,
        catalog=CATALOG,
    output:
        MODEL_PREDICTIONS,
    log:
        log_path("predict_cnn", "{target}/{bands}/{res}px/fold{fold}"),
    benchmark:
        bench_path("predict_cnn", "{target}/{bands}/{res}px/fold{fold}")
    conda:
        "../envs/torch.yaml"
    threads: config["resources"]["predict"]["threads"]
    resources:
        **gpu_resources("predict"),
    # predict.batch_size does not change the predictions (eval mode): the script reads it
    # from the config, so changing it reruns nothing. The thread count does (the rounding of CPU
    # convolutions): the configured one, not the job's share of --cores, and model.json repeats it.
    params:
        tta=config["predict"]["tta"],
        tta_mode=config["predict"]["tta_mode"],
        threads=config["resources"]["predict"]["threads"],
        reproducibility=config["reproducibility"],
    script:
        "../workflow/scripts/predict_cnn.py"


localrules:
    ensemble_folds,


# CPU only: the mean over folds needs no accelerator (so no GPU request on a cluster).
rule ensemble_folds:
    input:
        expand(MODEL_PREDICTIONS, fold=folds(), allow_missing=True),
    output:
        test=PREDICTIONS,
        validation=PREDICTIONS_VAL,
    log:
        log_path("ensemble_folds", "{target}/{bands}/{res}px"),
    conda:
        "../envs/analysis.yaml"
    threads: 1
    params:
        folds=folds(),
    script:
        "../workflow/scripts/ensemble_folds.py"

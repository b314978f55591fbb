# Portable models (`snakemake export`): per trained configuration, every fold's weights and a
# model.json that galcnn.load() checks and predicts from without the workflow.


localrules:
    export,
    export_model,


rule export_model:
    input:
        models=expand(MODEL_PT, fold=folds(), allow_missing=True),
        configs=expand(MODEL_CONFIG, fold=folds(), allow_missing=True),
        test=PREDICTIONS,
        calibration=CALIBRATION,
    output:
        weights=expand(EXPORT_WEIGHTS, fold=folds(), allow_missing=True),
        model=EXPORT_JSON,
    log:
        log_path("export_model", "{target}/{bands}/{res}px"),
    conda:
        "../envs/torch.yaml"
    params:
        folds=folds(),
        tta=config["predict"]["tta"],
        tta_mode=config["predict"]["tta_mode"],
        threads=config["resources"]["predict"]["threads"],
    script:
        "../workflow/scripts/export_model.py"


rule export:
    input:
        [EXPORT_JSON.format(target=t, bands=b, res=r) for t, b, r in cnn_keys()],

# CNN training: one job per target x bands x resolution x fold (docs/paper.md, "Model and training").
# A job checkpoints after every epoch (checkpoint.pt beside its outputs, not an output itself);
# a rerun of a killed job resumes from it.

# What changes a trained model; anything else (resources, predict.*, rf.*) must not retrain.
TRAIN_KEYS = (
    "arch",
    "pretrained",
    "batch_size",
    "momentum",
    "weight_decay",
    "stage1",
    "stage2",
    "zoom",
    "amp",
    "standardize_target",
    "head_init",
    "rotate",
    "lighting",
    "zoom_p",
    "zoom_whole_pixels",
    "drop_last",
)


localrules:
    weights_fetch,


# train.weights_file is read by the script, not a param: moving a verified copy of the
# same weights must not retrain every model (fetch_weights checks the file's content).
rule weights_fetch:
    output:
        WEIGHTS,
    log:
        log_path("weights_fetch", "{arch}"),
    retries: 2  # a dropped download of the weights
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/weights_fetch.py"


rule train_cnn:
    input:
        unpack(train_inputs),
    output:
        model=MODEL_PT,
        config=MODEL_CONFIG,
        history=MODEL_HISTORY,
        metrics=MODEL_METRICS,
    log:
        log_path("train_cnn", "{target}/{bands}/{res}px/fold{fold}"),
    benchmark:
        bench_path("train_cnn", "{target}/{bands}/{res}px/fold{fold}")
    conda:
        "../envs/torch.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        **gpu_resources("train"),
    params:
        train=canonical({k: config["train"][k] for k in TRAIN_KEYS}),
        seed=config["seed"],
        # The weights' bits depend on the mode (galcnn.pipeline.reproducibility); portable mode trains on
        # the configured threads whatever --cores grants (native on the job's share: no param).
        reproducibility=config["reproducibility"],
        threads=(
            config["resources"]["train"]["threads"]
            if config["reproducibility"] == "portable"
            else None
        ),
    script:
        "../workflow/scripts/train_cnn.py"

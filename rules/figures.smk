# The paper's figures, each by its own rule from stored predictions (no retraining),
# as PDF (print) and PNG (report). Metallicity figures use the configured top
# resolution of the colour images; figures needing the stellar-mass target or the
# r-band models are made when those are configured (figure_names()).
#
# One row per figure: its name (the outputs results/figures/<name>.{pdf,png}), the inputs
# and params of its rule. Everything else derives from the name: rule figure_<name>,
# script workflow/scripts/figure_<name>.py calling galcnn/figures/<name>.py, caption
# report/<name>.rst, log and benchmark under figure_<name>.
FIGURES = {
    "fig1_gallery": {"input": {"gallery": GALLERY}},
    "fig2_predicted_vs_true": {"input": {"predictions": main_predictions(METALLICITY)}},
    "fig3_resolution": {
        "input": resolution_inputs(),
        "params": {
            "resolutions": model_resolutions(METALLICITY, MAIN_BANDS),
            "published": (
                reference_resolutions() if reference_matches(METALLICITY, MAIN_BANDS) else []
            ),
        },
    },
    "fig4_mass": {
        "input": {"mass": main_predictions(MASS), "metallicity": main_predictions(METALLICITY)}
    },
    "fig_mmr": {
        "input": {
            "metallicity": main_predictions(METALLICITY),
            "catalog": CATALOG,
            "table": MMR_CSV,
        }
    },
    "fig_diagnostic": {"input": diagnostic_inputs()},
    "fig_training": {
        "input": {"histories": [MODEL_HISTORY.format(**m) for m in trained_models()]},
        "params": {
            "models": [[m[k] for k in ("target", "bands", "res", "fold")] for m in trained_models()]
        },
    },
}


localrules:
    figures,


rule figures:
    input:
        [f"{FIGURE_DIR}/{name}.{ext}" for name in figure_names() for ext in ("pdf", "png")],


for figure, spec in FIGURES.items():

    rule:
        name:
            f"figure_{figure}"
        input:
            **spec["input"],
        output:
            **figure_outputs(figure),
        log:
            log_path(f"figure_{figure}"),
        benchmark:
            bench_path(f"figure_{figure}")
        conda:
            "../envs/analysis.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            **spec.get("params", {}),
            # The script's path is evaluated again when the job runs, after the loop has moved
            # on: it takes the figure from the job's params, not from the loop variable.
            figure=figure,
        script:
            "../workflow/scripts/figure_{params.figure}.py"

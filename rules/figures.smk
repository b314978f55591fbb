# The paper's figures, each by its own rule from stored predictions (no retraining),
# as PDF (print) and PNG (report). Metallicity figures use the configured top
# resolution of the colour images; figures needing the stellar-mass target or the
# r-band models are made when those are configured.


def figure_output(name, ext):
    return report(
        f"{FIGURE_DIR}/{name}.{ext}",
        caption=f"../report/{name}.rst",
        category="Figures" if ext == "png" else "Figures (PDF)",
    )


def figure_outputs(name):
    return {"pdf": figure_output(name, "pdf"), "png": figure_output(name, "png")}


def figure_names():
    """The figures the configured targets and bands allow."""
    names = []
    if METALLICITY in config["targets"]:
        names += ["fig1_gallery", "fig2_predicted_vs_true", "fig3_resolution", "fig_mmr", "fig_diagnostic"]
        if MASS in config["targets"]:
            names.append("fig4_mass")
    if reference_enabled():
        names.append("fig2_published")
        # Only real SDSS galaxies can be among the published test set.
        if config["survey"] == "sdss" and compared_resolutions():
            names.append("fig_reference_comparison")
    return names


def resolution_inputs(wildcards):
    """Fig. 3's predictions and baselines, and the published curve when it is of the same target and images."""
    inputs = {
        "cnn": [main_predictions(METALLICITY, res) for res in model_resolutions(METALLICITY, MAIN_BANDS)],
        "rf": BASELINE.format(method="rf", target=METALLICITY),
        "mean": BASELINE.format(method="mean", target=METALLICITY),
    }
    return inputs | (reference_inputs() if reference_matches(METALLICITY, MAIN_BANDS) else {})


def diagnostic_inputs(wildcards):
    models = {"cnn_gri": main_predictions(METALLICITY)}
    if "r" in config["bands"] and MAIN_BANDS != "r":
        models["cnn_r"] = headline_predictions(METALLICITY, "r", top_resolution())
    models["rf"] = BASELINE.format(method="rf", target=METALLICITY)
    return models


localrules:
    figures,


rule figures:
    input:
        [f"{FIGURE_DIR}/{name}.{ext}" for name in figure_names() for ext in ("pdf", "png")],


rule figure_fig1_gallery:
    input:
        gallery=GALLERY,
    output:
        **figure_outputs("fig1_gallery"),
    log:
        log_path("figure_fig1_gallery"),
    benchmark:
        bench_path("figure_fig1_gallery")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure_gallery.py"


rule figure_fig2_predicted_vs_true:
    input:
        predictions=main_predictions(METALLICITY),
    output:
        **figure_outputs("fig2_predicted_vs_true"),
    log:
        log_path("figure_fig2_predicted_vs_true"),
    benchmark:
        bench_path("figure_fig2_predicted_vs_true")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure_predicted_vs_true.py"


rule figure_fig3_resolution:
    input:
        unpack(resolution_inputs),
    output:
        **figure_outputs("fig3_resolution"),
    params:
        resolutions=model_resolutions(METALLICITY, MAIN_BANDS),
        published=reference_resolutions() if reference_matches(METALLICITY, MAIN_BANDS) else [],
    log:
        log_path("figure_fig3_resolution"),
    benchmark:
        bench_path("figure_fig3_resolution")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure_resolution.py"


rule figure_fig4_mass:
    input:
        mass=main_predictions(MASS),
        metallicity=main_predictions(METALLICITY),
    output:
        **figure_outputs("fig4_mass"),
    log:
        log_path("figure_fig4_mass"),
    benchmark:
        bench_path("figure_fig4_mass")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure_mass.py"


rule figure_fig_mmr:
    input:
        metallicity=main_predictions(METALLICITY),
        catalog=CATALOG,
        table=MMR_CSV,
    output:
        **figure_outputs("fig_mmr"),
    log:
        log_path("figure_fig_mmr"),
    benchmark:
        bench_path("figure_fig_mmr")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure_mmr.py"


rule figure_fig_diagnostic:
    input:
        unpack(diagnostic_inputs),
    output:
        **figure_outputs("fig_diagnostic"),
    log:
        log_path("figure_fig_diagnostic"),
    benchmark:
        bench_path("figure_fig_diagnostic")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure_diagnostic.py"

# Scores of every model on the test set (summary table) and the scatter of the
# mass-metallicity relation (docs/paper.md, "MMR"), from the stored predictions.


localrules:
    analysis_headline,
    analysis_summary,
    analysis_mmr,
    readme_results,


# The paper's figures, MMR and published predictions come from one model; 0.0835 dex is its
# 5-fold ensemble. Which of the two the figures and the MMR show is config `analysis`.
rule analysis_headline:
    input:
        PREDICTIONS,
    output:
        HEADLINE,
    log:
        log_path("analysis_headline", "{target}/{bands}/{res}px"),
    conda:
        "../envs/analysis.yaml"
    threads: 1
    params:
        analysis=canonical(config["analysis"]),
    script:
        "../workflow/scripts/analysis_headline.py"


rule analysis_summary:
    input:
        **reference_inputs(),
        cnn=[PREDICTIONS.format(target=t, bands=b, res=r) for t, b, r in cnn_keys()],
        validation=[PREDICTIONS_VAL.format(target=t, bands=b, res=r) for t, b, r in cnn_keys()],
        baselines=[BASELINE.format(method=m, target=t) for m, t in baseline_keys()],
        mmr=[MMR_CSV] if has_mmr() else [],
    output:
        csv=report(
            SUMMARY_CSV, caption="../report/summary.rst", **report_placement("summary", "csv")
        ),
        md=report(SUMMARY_MD, caption="../report/summary.rst", **report_placement("summary", "md")),
    log:
        log_path("analysis_summary"),
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        cnn_keys=cnn_keys(),
        baseline_keys=baseline_keys(),
        published=reference_resolutions(),
        seed=config["seed"],
        # How alike the authors' values are: the sky and the test galaxies.
        survey=config["survey"],
        test_set=config["test_set"],
    script:
        "../workflow/scripts/analysis_summary.py"


rule analysis_mmr:
    input:
        metallicity=main_predictions(METALLICITY),
        mass=[main_predictions(MASS)] if MASS in config["targets"] else [],
        catalog=CATALOG,
    output:
        report(MMR_CSV, caption="../report/mmr.rst", **report_placement("mmr", "csv")),
    log:
        log_path("analysis_mmr"),
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        mmr=canonical(config["mmr"]),
    script:
        "../workflow/scripts/analysis_mmr.py"


# The README's results block from the run's own files (`make readme-results` puts it in the
# README): the summary, and a model's record of the mode and kernels it was made with.
rule readme_results:
    input:
        summary=SUMMARY_CSV,
        model_config=MODEL_CONFIG.format(
            target=cnn_keys()[0][0], bands=cnn_keys()[0][1], res=cnn_keys()[0][2], fold=folds()[0]
        ),
    output:
        README_RESULTS,
    log:
        log_path("readme_results"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/readme_results.py"

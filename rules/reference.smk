# The published record (Wu & Boada 2019): the authors' own test-set predictions on real SDSS,
# pinned by commit and sha256; ours compared with them galaxy by galaxy; Fig. 2 drawn from them.
# Included when reference.enabled; the summary table and Fig. 3 read them too.


localrules:
    reference_comparison,


# From a results bundle the published files come with the bundle, as the run used them.
if not config["bundle"]["source"]:

    localrules:
        reference_fetch,

    # url, commit, folder, local_dir, retries and timeout are read by the script, not params:
    # where the pinned files come from does not change them (their sha256 does).
    rule reference_fetch:
        output:
            tables=list(reference_tables().values()),
            status=reference_status(),
        log:
            log_path("reference_fetch"),
        conda:
            "../envs/data.yaml"
        params:
            files=canonical(sorted(config["reference"]["files"], key=lambda f: -f["resolution"])),
            target=config["reference"]["target"],
        script:
            "../workflow/scripts/reference_fetch.py"


rule reference_comparison:
    input:
        **reference_inputs(),
        cnn=compared_predictions(),
    output:
        report(
            REFERENCE_COMPARISON,
            caption="../report/reference_comparison.rst",
            **report_placement("reference_comparison", "csv"),
        ),
    log:
        log_path("reference_comparison"),
    conda:
        "../envs/analysis.yaml"
    params:
        resolutions=compared_resolutions(),
        published=reference_resolutions(),
    script:
        "../workflow/scripts/reference_comparison.py"


rule figure_fig2_published:
    input:
        predictions=reference_tables()[reference_resolutions()[0]],
        reference_status=reference_status(),
    output:
        **figure_outputs("fig2_published"),
    log:
        log_path("figure_fig2_published"),
    benchmark:
        bench_path("figure_fig2_published")
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        resolution=reference_resolutions()[0],
    script:
        "../workflow/scripts/figure_fig2_published.py"


rule figure_fig_reference_comparison:
    input:
        **reference_inputs(),
        cnn=compared_predictions(),
    output:
        **figure_outputs("fig_reference_comparison"),
    log:
        log_path("figure_fig_reference_comparison"),
    benchmark:
        bench_path("figure_fig_reference_comparison")
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        resolutions=compared_resolutions(),
        published=reference_resolutions(),
    script:
        "../workflow/scripts/figure_fig_reference_comparison.py"

# Results bundles (README, "For reviewers"): `snakemake bundle` packs what the analysis, figure
# and report rules read into results/bundle/galcnn-results-<digest>.tar.gz; with `bundle: <path
# or URL>` in the config, `bundle_restore` writes those files back and the stages that made them
# are not part of the workflow (Snakefile), so only the analysis and the figures run.


localrules:
    bundle,


# The archive's name depends on its content, so the declared output is its folder, which
# Snakemake empties before the job: it never holds a stale archive beside the new one.
rule bundle:
    input:
        **bundle_inputs(),
        tables=bundle_tables(),
    output:
        directory(BUNDLE_DIR),
    log:
        log_path("bundle"),
    conda:
        "../envs/data.yaml"
    params:
        columns=bundle_columns(),
    script:
        "../workflow/scripts/bundle.py"


if config["bundle"]["source"]:

    localrules:
        bundle_restore,

    # Verifies the whole archive before writing any file; a local path is read in place. Its
    # outputs are deleted before it runs, so the Snakefile refuses a restore over results
    # that no restore made (galcnn/pipeline/workspace.py).
    rule bundle_restore:
        input:
            [] if "://" in config["bundle"]["source"] else [config["bundle"]["source"]],
        output:
            [path for paths in bundle_inputs().values() for path in paths],
        log:
            log_path("bundle_restore"),
        # A URL's download may drop; a local archive that fails its checks fails the same again.
        retries: 2 if "://" in config["bundle"]["source"] else 0
        conda:
            "../envs/data.yaml"
        params:
            source=config["bundle"]["source"],
            layout=layout(config),
            max_unpacked_mb=config["bundle"]["max_unpacked_mb"],
        script:
            "../workflow/scripts/bundle_restore.py"

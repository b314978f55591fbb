# New galaxies through the trained models (`snakemake apply`, config `apply`): the catalogue
# checked, its cutouts made by the same stage as the training cutouts (rendered for the mock
# survey, downloaded from SkyServer otherwise) and packed, every fold model of the chosen
# configuration with TTA via the exported model folder, and one table of predictions,
# calibrated uncertainties, status and domain flags. Nothing is retrained.


localrules:
    apply,


rule apply:
    input:
        apply_outputs,


if _apply["catalog"]:
    _untrained = [t for t in config["targets"] if [t, APPLY_BANDS, APPLY_RES] not in cnn_keys()]
    if _untrained:
        raise ValueError(
            f"config apply asks for models from {APPLY_BANDS} images at {APPLY_RES} px, which are not trained for "
            f"{_untrained}; trained: {sorted(cnn_keys())}. "
            "Set apply.bands and apply.resolution to one of those, or null"
        )

    localrules:
        apply_catalog,
        apply_table,

    rule apply_catalog:
        input:
            catalog=apply_catalog_file,
        output:
            catalog=APPLY_CATALOG,
            truth=[APPLY_TRUTH] if config["survey"] == "mock" else [],
        log:
            log_path("apply_catalog", APPLY_NAME),
        conda:
            "../envs/data.yaml"
        # The mock galaxies at the positions depend on the mock seed and the cuts alone.
        params:
            targets=config["targets"],
            # Framed per galaxy, real galaxies need their petroR90_r; mock ones have the mock galaxy's.
            needs_size=config["cutouts"]["framing"] == "petrosian" and config["survey"] == "sdss",
            mock=(
                canonical({"seed": config["mock"]["seed"], "cuts": config["query"]["cuts"]})
                if config["survey"] == "mock"
                else {}
            ),
        script:
            "../workflow/scripts/apply_catalog.py"

    if config["survey"] == "mock":

        rule apply_cutouts_render:
            input:
                catalog=APPLY_CATALOG,
                truth=APPLY_TRUTH,
            output:
                manifest=APPLY_MANIFEST,
            log:
                log_path("apply_cutouts_render", APPLY_NAME),
            benchmark:
                bench_path("apply_cutouts_render", APPLY_NAME)
            conda:
                "../envs/data.yaml"
            threads: 1
            resources:
                mem_mb=1000,
                runtime=60,
            params:
                root=store_root,
                shards=1,
                render=MOCK_RENDER,
            script:
                "../workflow/scripts/mock_render.py"

    else:

        rule apply_cutouts_download:
            input:
                catalog=APPLY_CATALOG,
            output:
                manifest=APPLY_MANIFEST,
            log:
                log_path("apply_cutouts_download", APPLY_NAME),
            benchmark:
                bench_path("apply_cutouts_download", APPLY_NAME)
            conda:
                "../envs/data.yaml"
            threads: 1
            resources:
                sdss_http=1,
                runtime=240,
            params:
                root=store_root,
                shards=1,
                service=CUTOUT_SERVICE,
            script:
                "../workflow/scripts/cutouts_download.py"

    rule apply_pack:
        input:
            catalog=APPLY_CATALOG,
            manifests=[APPLY_MANIFEST],
        output:
            images=APPLY_IMAGES,
            index=APPLY_INDEX,
            excluded=APPLY_EXCLUDED,
        log:
            log_path("apply_pack", APPLY_NAME),
        conda:
            "../envs/data.yaml"
        threads: 2
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            cutouts=canonical(FRAMING | {"root": APPLY_CUTOUTS, "shards": 1}),
        script:
            "../workflow/scripts/images_pack.py"

    rule apply_predict:
        input:
            model=lambda w: apply_model(w.target),
            images=APPLY_IMAGES,
            index=APPLY_INDEX,
        output:
            APPLY_PREDICTIONS,
        log:
            log_path("apply_predict", f"{APPLY_NAME}/{{target}}"),
        benchmark:
            bench_path("apply_predict", f"{APPLY_NAME}/{{target}}")
        conda:
            "../envs/torch.yaml"
        threads: config["resources"]["predict"]["threads"]
        resources:
            **gpu_resources("predict"),
        script:
            "../workflow/scripts/apply_predict.py"

    rule apply_table:
        input:
            catalog=APPLY_CATALOG,
            manifests=[APPLY_MANIFEST],
            index=APPLY_INDEX,
            excluded=APPLY_EXCLUDED,
            predictions=expand(APPLY_PREDICTIONS, target=config["targets"]),
            training_catalog=CATALOG,
            splits=SPLITS,
        output:
            table=APPLY_TABLE,
            csv=APPLY_CSV,
        log:
            log_path("apply_table", APPLY_NAME),
        conda:
            "../envs/analysis.yaml"
        params:
            targets=config["targets"],
        script:
            "../workflow/scripts/apply_table.py"

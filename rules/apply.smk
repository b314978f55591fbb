# New galaxies through the trained models (`snakemake apply`, config `apply`): the catalogue
# checked, its cutouts made by the same stage as the training cutouts (the user's images with
# apply.images, rendered for the mock survey, downloaded from SkyServer otherwise) and packed,
# every fold model of the chosen configuration with TTA via the exported model folder, and one
# table of predictions, calibrated uncertainties, status and domain flags. Nothing is retrained.


localrules:
    apply,


rule apply:
    input:
        apply_outputs,


if config["apply"]["catalog"]:

    localrules:
        apply_catalog,
        apply_table,

    rule apply_catalog:
        input:
            catalog=apply_catalog_file,
        output:
            catalog=APPLY.catalog,
            truth=[APPLY.truth] if APPLY.source == "mock" else [],
        log:
            log_path("apply_catalog", APPLY.name),
        conda:
            "../envs/data.yaml"
        # The mock galaxies at the positions depend on the mock seed and the cuts alone. The user's
        # images (apply.images) are found by objID: positions are needed only to make cutouts.
        params:
            **({"positions": False} if APPLY.source == "images" else {}),
            targets=config["targets"],
            # Framed per galaxy, real galaxies need their petroR90_r; mock ones have the mock galaxy's.
            needs_size=config["cutouts"]["framing"] == "petrosian" and config["survey"] == "sdss",
            mock=(
                canonical({"seed": config["mock"]["seed"], "cuts": config["query"]["cuts"]})
                if APPLY.source == "mock"
                else {}
            ),
        script:
            "../workflow/scripts/apply_catalog.py"

    # The stage rules (rules/stages.smk) with this catalogue's paths, one shard and its own
    # logs: the same scripts, settings and resources as the training cutouts.
    module stages:
        snakefile:
            "stages.smk"
        config:
            config

    if APPLY.source == "images":

        use rule cutouts_local from stages as apply_cutouts_local with:
            input:
                catalog=APPLY.catalog,
                images=APPLY.image_folders,
            output:
                manifest=APPLY.manifest,
            log:
                log_path("apply_cutouts_local", APPLY.name),
            benchmark:
                bench_path("apply_cutouts_local", APPLY.name)
            params:
                root=store_root,
                shards=1,
                local=LOCAL_IMPORT,

    elif APPLY.source == "mock":

        use rule cutouts_render from stages as apply_cutouts_render with:
            input:
                catalog=APPLY.catalog,
                truth=APPLY.truth,
            output:
                manifest=APPLY.manifest,
            log:
                log_path("apply_cutouts_render", APPLY.name),
            benchmark:
                bench_path("apply_cutouts_render", APPLY.name)
            params:
                root=store_root,
                shards=1,
                render=MOCK_RENDER,

    else:

        use rule cutouts_download from stages as apply_cutouts_download with:
            input:
                catalog=APPLY.catalog,
            output:
                manifest=APPLY.manifest,
            log:
                log_path("apply_cutouts_download", APPLY.name),
            benchmark:
                bench_path("apply_cutouts_download", APPLY.name)
            params:
                root=store_root,
                shards=1,
                service=CUTOUT_SERVICE,

    use rule images_pack from stages as apply_pack with:
        input:
            catalog=APPLY.catalog,
            manifests=[APPLY.manifest],
        output:
            images=APPLY.images,
            index=APPLY.index,
            excluded=APPLY.excluded,
        log:
            log_path("apply_pack", APPLY.name),
        benchmark:
            bench_path("apply_pack", APPLY.name)
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            cutouts=canonical(PLAN.framing(APPLY.source) | {"root": APPLY.cutouts, "shards": 1}),

    rule apply_predict:
        input:
            model=lambda w: APPLY.model(w.target),
            images=APPLY.images,
            index=APPLY.index,
        output:
            APPLY.predictions,
        log:
            log_path("apply_predict", f"{APPLY.name}/{{target}}"),
        benchmark:
            bench_path("apply_predict", f"{APPLY.name}/{{target}}")
        conda:
            "../envs/torch.yaml"
        threads: config["resources"]["predict"]["threads"]
        resources:
            **gpu_resources("predict"),
        params:
            threads=config["resources"]["predict"]["threads"],
            reproducibility=config["reproducibility"],
        script:
            "../workflow/scripts/apply_predict.py"

    rule apply_table:
        input:
            catalog=APPLY.catalog,
            manifests=[APPLY.manifest],
            index=APPLY.index,
            excluded=APPLY.excluded,
            predictions=expand(APPLY.predictions, target=config["targets"]),
            training_catalog=CATALOG,
            splits=SPLITS,
        output:
            table=APPLY.table,
            csv=APPLY.csv,
        log:
            log_path("apply_table", APPLY.name),
        conda:
            "../envs/analysis.yaml"
        params:
            targets=config["targets"],
        script:
            "../workflow/scripts/apply_table.py"

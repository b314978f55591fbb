# The embedded mock survey (survey: mock): a simulated catalogue through the paper's cuts,
# and SkyServer-like gri JPEG cutouts rendered per shard in the downloader's layout.


localrules:
    catalog_mock,


rule catalog_mock:
    output:
        catalog=CATALOG,
        truth=MOCK_TRUTH,
    log:
        log_path("catalog_mock"),
    benchmark:
        bench_path("catalog_mock")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        mock=canonical(config["mock"]),
        cuts=canonical(config["query"]["cuts"]),
    script:
        "../workflow/scripts/catalog_mock.py"


# The JPEGs are not declared outputs: an interrupted job keeps them and its rerun skips them.
rule cutouts_render:
    input:
        catalog=CATALOG,
        truth=MOCK_TRUTH,
    output:
        manifest=CUTOUT_MANIFEST,
    log:
        log_path("cutouts_render", "shard{shard}"),
    benchmark:
        bench_path("cutouts_render", "shard{shard}")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        root=store_root,
        shards=config["cutouts"]["shards"],
        render=MOCK_RENDER,
    script:
        "../workflow/scripts/cutouts_render.py"

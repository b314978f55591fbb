# The user's own cutouts (survey: local): a catalogue with objID and the targets, and folders of
# <objID>.jpg|.jpeg|.png images (config local). The catalogue is checked like the query's; each
# image is checked, area-averaged to cutouts.size and classified by the downloads' blank rule
# into the same shard store (galcnn/local.py), so every later stage is the same as for SDSS.


localrules:
    catalog_local,


rule catalog_local:
    input:
        catalog=LOCAL_CATALOGS,
    output:
        catalog=CATALOG,
    log:
        log_path("catalog_local"),
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        targets=config["targets"],
    script:
        "../workflow/scripts/catalog_local.py"


# The folders are inputs: adding or removing an image changes their time stamps and reruns the
# shards. The largest resolution is the least size an image may have.
rule cutouts_local:
    input:
        catalog=CATALOG,
        images=LOCAL_IMAGES,
    output:
        manifest=CUTOUT_MANIFEST,
    log:
        log_path("cutouts_local", "shard{shard}"),
    benchmark:
        bench_path("cutouts_local", "shard{shard}")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        root=store_root,
        shards=config["cutouts"]["shards"],
        local=LOCAL_IMPORT,
    script:
        "../workflow/scripts/cutouts_local.py"

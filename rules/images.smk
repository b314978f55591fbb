# Packed image arrays: the cutouts decoded once into results/images/128px.npy,
# then area-averaged to every configured resolution (one job per resolution, so
# adding a resolution adds one job and touches no other array).


rule images_pack:
    input:
        catalog=CATALOG,
        manifests=expand(CUTOUT_MANIFEST, shard=shard_ids()),
    output:
        images=IMAGES.format(res=NATIVE_RES),
        index=IMAGE_INDEX,
        excluded=IMAGE_EXCLUDED,
    log:
        log_path("images_pack"),
    benchmark:
        bench_path("images_pack")
    conda:
        "../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cutouts=canonical(FRAMING | {"root": CUTOUT_ROOT, "shards": config["cutouts"]["shards"]}),
    script:
        "../workflow/scripts/images_pack.py"


rule images_downsample:
    input:
        IMAGES.format(res=NATIVE_RES),
    output:
        IMAGES,
    log:
        log_path("images_downsample", "{res}px"),
    benchmark:
        bench_path("images_downsample", "{res}px")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../workflow/scripts/images_downsample.py"


localrules:
    images_gallery,


# The few images figure 1 shows, in a file of their own: the figure (and a results bundle)
# then needs neither the packed array nor the index.
rule images_gallery:
    input:
        predictions=main_predictions(METALLICITY),
        images=IMAGES.format(res=NATIVE_RES),
        index=IMAGE_INDEX,
    output:
        GALLERY,
    log:
        log_path("images_gallery"),
    conda:
        "../envs/analysis.yaml"
    params:
        seed=config["seed"],
    script:
        "../workflow/scripts/images_gallery.py"


# The native array comes from packing; every other resolution from downsampling it.
ruleorder: images_pack > images_downsample

# Cutouts from SkyServer's ImgCutout service, one job per shard of the catalogue
# (a galaxy's shard is objID mod shards). Each job runs `concurrency` requests at a
# time under a token bucket of `rate_limit` requests/s; the global resource
# sdss_http (limited in profiles/default/config.yaml, which every run loads; e.g.
# --resources sdss_http=2 overrides it) caps how many jobs talk to SkyServer at once.
# Jobs resume: valid files on disk are kept. A shard that meets an outage fails
# without its manifest, so Snakemake's retries (or a rerun) try it again.


rule cutouts_download:
    input:
        catalog=CATALOG,
    output:
        manifest=CUTOUT_MANIFEST,
    log:
        log_path("cutouts_download", "shard{shard}"),
    benchmark:
        bench_path("cutouts_download", "shard{shard}")
    # A network job that failed (an outage, a dropped connection after every retry of its
    # requests) runs again twice before the run gives up; what it already fetched is kept.
    retries: 2
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        sdss_http=1,
        runtime=240,
    params:
        root=store_root,
        shards=config["cutouts"]["shards"],
        service=CUTOUT_SERVICE,
    script:
        "../workflow/scripts/cutouts_download.py"

"""Download one shard of cutouts from SkyServer ImgCutout and write its manifest."""

import pandas as pd

from galcnn import download
from galcnn.io import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
cfg = snakemake.config["cutouts"]
download.download_shard(
    catalog=pd.read_parquet(snakemake.input.catalog, columns=["objID", "ra", "dec"]),
    shard=int(snakemake.wildcards.shard),
    n_shards=p.shards,
    root=p.root,
    out_manifest=snakemake.output.manifest,
    service=download.CutoutService(url=snakemake.config["sdss"]["url"], **p.service),
    **{k: cfg[k] for k in ("concurrency", "rate_limit", "retries", "timeout", "max_failed_fraction", "max_consecutive_failures")},
)

"""SkyServer cutouts of the apply catalogue's galaxies, in the cutout stage's layout (one shard)."""

import pandas as pd

from galcnn import download
from galcnn import io as gio

gio.setup_logging(snakemake.log[0])
cfg = snakemake.config["cutouts"]
download.download_shard(
    catalog=pd.read_parquet(snakemake.input.catalog, columns=["objID", "ra", "dec"]),
    root=snakemake.params.root,
    shard=0,
    n_shards=1,
    service=download.CutoutService(url=snakemake.config["sdss"]["url"], **snakemake.params.service),
    **{k: cfg[k] for k in ("concurrency", "rate_limit", "retries", "timeout")},
)

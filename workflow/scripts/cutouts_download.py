"""Download one shard of cutouts from SkyServer ImgCutout and write its manifest."""

import pandas as pd

from galcnn import storage
from galcnn.sdss import download

storage.setup_logging(snakemake.log[0])
p = snakemake.params
cfg = snakemake.config["cutouts"]
download.download_shard(
    catalog=pd.read_parquet(snakemake.input.catalog, columns=["objID", "ra", "dec"]),
    root=p.root,
    # The apply stage downloads its galaxies as the one shard of a store of their own.
    shard=int(getattr(snakemake.wildcards, "shard", 0)),
    n_shards=p.shards,
    service=download.CutoutService(url=snakemake.config["sdss"]["url"], **p.service),
    **{
        k: cfg[k]
        for k in (
            "concurrency",
            "rate_limit",
            "retries",
            "timeout",
            "max_failed_fraction",
            "max_consecutive_failures",
        )
    },
)

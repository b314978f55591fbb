"""Download one shard of cutouts from SkyServer ImgCutout and write its manifest."""

import pandas as pd

from galcnn import cutouts, storage
from galcnn.sdss import download

storage.setup_logging(snakemake.log[0])
p = snakemake.params
cfg = snakemake.config["cutouts"]
service = download.CutoutService(url=snakemake.config["sdss"]["url"], **p.service)
# Each galaxy's ImgCutout scale; galaxies without a usable petroR90_r get no cutout (images_pack lists them).
positions, _ = cutouts.cutout_scales(
    pd.read_parquet(snakemake.input.catalog),
    service.framing,
    service.size,
    service.scale,
    service.framing_factor,
)
download.download_shard(
    catalog=positions[["objID", "ra", "dec", "scale"]],
    root=p.root,
    # The apply stage downloads its galaxies as the one shard of a store of their own.
    shard=int(getattr(snakemake.wildcards, "shard", 0)),
    n_shards=p.shards,
    service=service,
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

"""Decode the shard cutouts of the catalogue into the native-resolution array."""

import pandas as pd

from galcnn import cutouts, images, storage

storage.setup_logging(snakemake.log[0])
p = snakemake.params.cutouts
images.pack_cutouts(
    catalog=pd.read_parquet(snakemake.input.catalog),
    manifests=cutouts.read_manifests(snakemake.input.manifests),
    cutout_root=p["root"],
    n_shards=p["shards"],
    size=p["size"],
    out_images=snakemake.output.images,
    out_index=snakemake.output.index,
    out_excluded=snakemake.output.excluded,
    threads=snakemake.threads,
    framing=p["framing"],
    scale=p["scale"],
    framing_factor=p["framing_factor"],
)

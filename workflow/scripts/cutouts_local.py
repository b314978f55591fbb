"""Snakemake job: one shard of the user's images into the cutout store, and its manifest."""

import pandas as pd

from galcnn import storage
from galcnn.local import import_shard

storage.setup_logging(snakemake.log[0])
params = snakemake.params
import_shard(
    pd.read_parquet(snakemake.input.catalog),
    list(snakemake.input.images),
    params.root,
    # The apply stage stores its galaxies as the one shard of a store of their own.
    int(getattr(snakemake.wildcards, "shard", 0)),
    params.shards,
    params.local["size"],
    params.local["min_size"],
)

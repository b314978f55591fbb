"""Snakemake job: render one shard of mock cutouts and write its manifest."""

import pandas as pd

from galcnn import storage
from galcnn.mock.images import render_shard

storage.setup_logging(snakemake.log[0])
params = snakemake.params
render = params.render
render_shard(
    pd.read_parquet(snakemake.input.truth),
    params.root,
    # The apply stage renders its galaxies as the one shard of a store of their own.
    int(getattr(snakemake.wildcards, "shard", 0)),
    params.shards,
    render["size"],
    render["scale"],
    render["seed"],
)

"""Snakemake job: render one shard of mock cutouts and write its manifest."""

import pandas as pd

from galcnn import io as gio
from galcnn.mock_images import render_shard

gio.setup_logging(snakemake.log[0])
params = snakemake.params
render = params.render
render_shard(
    pd.read_parquet(snakemake.input.truth),
    params.root,
    int(snakemake.wildcards.shard),
    params.shards,
    render["size"],
    render["scale"],
    render["seed"],
)

"""Snakemake job: render one shard of mock cutouts and write its manifest."""

import pandas as pd

from galcnn import cutouts, storage
from galcnn.mock.images import render_shard

storage.setup_logging(snakemake.log[0])
params = snakemake.params
render = params.render
# Each galaxy at its ImgCutout scale, as the downloads; galaxies without a usable petroR90_r get
# no cutout (images_pack lists them).
positions, _ = cutouts.cutout_scales(
    pd.read_parquet(snakemake.input.catalog),
    render["framing"],
    render["size"],
    render["scale"],
    render["framing_factor"],
)
render_shard(
    pd.read_parquet(snakemake.input.truth).merge(positions[["objID", "scale"]], on="objID"),
    params.root,
    # The apply stage renders its galaxies as the one shard of a store of their own.
    int(getattr(snakemake.wildcards, "shard", 0)),
    params.shards,
    render["size"],
    render["scale"],
    render["seed"],
)

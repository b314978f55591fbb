"""Mock cutouts of the apply catalogue's galaxies, in the cutout stage's layout (one shard)."""

import pandas as pd

from galcnn import io as gio
from galcnn.mock_images import render_shard

gio.setup_logging(snakemake.log[0])
render = snakemake.params.render
render_shard(
    pd.read_parquet(snakemake.input.truth),
    snakemake.params.root,
    0,
    1,
    render["size"],
    render["scale"],
    render["seed"],
)

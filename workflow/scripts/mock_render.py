"""Snakemake job: render one shard of mock cutouts and write its manifest."""

from pathlib import Path

import pandas as pd

from galcnn import cutouts
from galcnn import io as gio
from galcnn.mock_images import render_shard

gio.setup_logging(snakemake.log[0])
params = snakemake.params
shard = int(snakemake.wildcards.shard)
expected = cutouts.manifest_path(params.root, shard)
if Path(snakemake.output.manifest) != expected:
    raise ValueError(f"manifest output {snakemake.output.manifest} differs from the cutout layout's {expected}")
truth = pd.read_parquet(snakemake.input.truth)
render = params.render
render_shard(truth, params.root, shard, params.shards, render["size"], render["scale"], render["seed"])

"""Seeded train/test split and k folds over the galaxies with a usable image."""

import logging

import pandas as pd

from galcnn import io, splits

io.setup_logging(snakemake.log[0])
p = snakemake.params.split
table = splits.make_splits(pd.read_parquet(snakemake.input[0])["objID"], p["test_fraction"], p["folds"], p["seed"])
io.write_parquet(snakemake.output[0], table)
logging.getLogger("galcnn").info("splits: %s", table.groupby(["split", "fold"]).size().to_dict())

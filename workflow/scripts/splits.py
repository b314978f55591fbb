"""Seeded train/test split and k folds over the galaxies with a usable image."""

import logging

import pandas as pd

from galcnn import splits, storage
from galcnn.reference import published_test_ids

storage.setup_logging(snakemake.log[0])
p = snakemake.params.split
test_set = p.get("test_set", "random")
test_ids = (
    published_test_ids(snakemake.input.reference_status, snakemake.input.reference)
    if test_set == "reference"
    else None
)
table = splits.make_splits(
    pd.read_parquet(snakemake.input.index)["objID"],
    p["test_fraction"],
    p["folds"],
    p["seed"],
    test_ids,
)
storage.write_parquet(snakemake.output[0], table)
logging.getLogger("galcnn").info(
    "splits (test_set: %s): %s", test_set, table.groupby(["split", "fold"]).size().to_dict()
)

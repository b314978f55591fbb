"""Galaxies per fold of one target, checked against the minimums for training and scoring (rule splits_check)."""

import logging

import pandas as pd

from galcnn import storage, sufficiency

storage.setup_logging(snakemake.log[0])
target = snakemake.wildcards.target
counts = sufficiency.fold_counts(
    pd.read_parquet(snakemake.input.index),
    pd.read_parquet(snakemake.input.splits),
    pd.read_parquet(snakemake.input.catalog),
    target,
)
logging.getLogger("galcnn").info(
    "galaxies with %s per fold:\n%s", target, counts.to_string(index=False)
)
sufficiency.check_counts(counts, target, snakemake.params.batch_size, snakemake.params.survey)
storage.write_csv(snakemake.output[0], counts)

"""Predict the training mean for every test galaxy: the no-information baseline."""

import pandas as pd

from galcnn import storage
from galcnn.baselines import mean_baseline

log = storage.setup_logging(snakemake.log[0])

predictions = mean_baseline(
    pd.read_parquet(snakemake.input.catalog),
    pd.read_parquet(snakemake.input.splits),
    target=snakemake.wildcards.target,
)
storage.write_parquet(snakemake.output[0], predictions)
log.info("wrote %d mean-baseline predictions to %s", len(predictions), snakemake.output[0])

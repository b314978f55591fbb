"""Predict the training mean for every test galaxy: the no-information baseline."""

import pandas as pd

from galcnn import io as gio
from galcnn.baselines import mean_baseline

log = gio.setup_logging(snakemake.log[0])

predictions = mean_baseline(
    pd.read_parquet(snakemake.input.catalog),
    pd.read_parquet(snakemake.input.splits),
    target=snakemake.wildcards.target,
)
gio.write_parquet(snakemake.output[0], predictions)
log.info("wrote %d mean-baseline predictions to %s", len(predictions), snakemake.output[0])

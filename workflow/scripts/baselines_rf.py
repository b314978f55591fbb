"""Random forest on g, r, i modelMags, trained on every non-test galaxy, predicting the test set."""

import pandas as pd

from galcnn import storage
from galcnn.baselines import random_forest_baseline

log = storage.setup_logging(snakemake.log[0])

predictions = random_forest_baseline(
    pd.read_parquet(snakemake.input.catalog),
    pd.read_parquet(snakemake.input.splits),
    target=snakemake.wildcards.target,
    n_estimators=snakemake.params.rf["n_estimators"],
    min_samples_leaf=snakemake.params.rf["min_samples_leaf"],
    seed=snakemake.params.seed,
    n_jobs=snakemake.threads,
)
storage.write_parquet(snakemake.output[0], predictions)
log.info("wrote %d random-forest predictions to %s", len(predictions), snakemake.output[0])

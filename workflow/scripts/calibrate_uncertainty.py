"""The uncertainty scale of one configuration, fitted on its out-of-fold validation predictions."""

import pandas as pd

from galcnn import storage
from galcnn.calibration import calibrate

log = storage.setup_logging(snakemake.log[0])
result = calibrate(
    pd.read_parquet(snakemake.input.test),
    pd.read_parquet(snakemake.input.validation),
    names=(snakemake.input.test, snakemake.input.validation),
)
storage.write_json(snakemake.output[0], result)
log.info("%s: %s", snakemake.output[0], result)

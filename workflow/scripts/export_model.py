"""One configuration's fold models and model.json in a folder of their own (rule export_model)."""

import json
from pathlib import Path

import pandas as pd

from galcnn import storage
from galcnn.cnn.portable import export_model

storage.setup_logging(snakemake.log[0])
folds = snakemake.params.folds
export_model(
    Path(snakemake.output.model).parent,
    dict(zip(folds, snakemake.input.models)),
    {k: json.loads(Path(p).read_text()) for k, p in zip(folds, snakemake.input.configs)},
    pd.read_parquet(snakemake.input.test),
    json.loads(Path(snakemake.input.calibration).read_text()),
    tta=snakemake.params.tta,
    tta_mode=snakemake.params.tta_mode,
    threads=snakemake.params.threads,
)

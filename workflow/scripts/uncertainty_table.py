"""results/tables/uncertainty.csv: each configuration's calibration factor and test coverage."""

import json
from pathlib import Path

import pandas as pd

from galcnn import storage

log = storage.setup_logging(snakemake.log[0])
rows = [
    {"target": t, "bands": b, "res": r, **json.loads(Path(path).read_text())}
    for (t, b, r), path in zip(snakemake.params.cnn_keys, snakemake.input)
]
table = pd.DataFrame(rows)
storage.write_csv(snakemake.output[0], table)
log.info("wrote %d configurations to %s", len(table), snakemake.output[0])

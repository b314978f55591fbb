"""The calibration figure: observed against expected coverage, and |Δ| against σ, per target."""

import json
from pathlib import Path

import pandas as pd

from galcnn import storage
from galcnn.figures.fig_calibration import make_calibration_figure

storage.setup_logging(snakemake.log[0])
i = snakemake.input
entries = [
    {
        "target": t,
        "bands": b,
        "res": r,
        "test": pd.read_parquet(test),
        "validation": pd.read_parquet(val),
        "factor": json.loads(Path(cal).read_text())["factor"],
    }
    for (t, b, r), test, val, cal in zip(
        snakemake.params.configurations, i.test, i.validation, i.calibration
    )
]
make_calibration_figure(entries, snakemake.output.pdf, snakemake.output.png)

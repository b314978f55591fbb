"""The headline test predictions: one fold's model or the fold ensemble (rule analysis_headline)."""

from galcnn.ensemble import headline_file
from galcnn.storage import setup_logging

setup_logging(snakemake.log[0])
analysis = snakemake.params.analysis
headline_file(
    snakemake.input[0],
    snakemake.output[0],
    predictions=analysis["predictions"],
    fold=analysis["fold"],
)

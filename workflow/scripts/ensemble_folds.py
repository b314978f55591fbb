"""Mean of the fold models' test predictions, and the out-of-fold validation file (rule ensemble_folds)."""

from galcnn.ensemble import ensemble_files
from galcnn.io import setup_logging

log = setup_logging(snakemake.log[0])
try:
    ensemble_files(dict(zip(snakemake.params.folds, snakemake.input)), snakemake.output.test, snakemake.output.validation)
except Exception:
    log.exception("ensemble_folds failed")
    raise

"""Mean of the fold models' test predictions, and the out-of-fold validation file (rule ensemble_folds)."""

from galcnn import storage
from galcnn.ensemble import ensemble_files

storage.setup_logging(snakemake.log[0])
ensemble_files(
    dict(zip(snakemake.params.folds, snakemake.input)),
    snakemake.output.test,
    snakemake.output.validation,
)

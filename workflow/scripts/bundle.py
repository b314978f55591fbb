"""Pack what the analysis, figures and report read into results/bundle/galcnn-results-<digest>.tar.gz."""

from galcnn import storage
from galcnn.bundle import make_bundle

storage.setup_logging(snakemake.log[0])
make_bundle(
    files=list(snakemake.input),
    config=snakemake.config,
    out_dir=snakemake.output[0],
    columns=snakemake.params.columns,
)

"""Snakemake job: simulate the mock survey's catalogue and its hidden truth table."""

from galcnn import storage
from galcnn.mock.catalog import simulate_catalog

log = storage.setup_logging(snakemake.log[0])
mock = snakemake.params.mock
catalog, truth = simulate_catalog(
    mock["n_galaxies"], mock["seed"], snakemake.params.cuts, image_z_terms=mock["image_z_terms"]
)
storage.write_parquet(snakemake.output.truth, truth)
storage.write_parquet(snakemake.output.catalog, catalog)
log.info(
    "wrote %d galaxies to %s and their truth to %s",
    len(catalog),
    snakemake.output.catalog,
    snakemake.output.truth,
)

"""Snakemake job: simulate the mock survey's catalogue and its hidden truth table."""

from galcnn import io as gio
from galcnn.mock_catalog import simulate_catalog

log = gio.setup_logging(snakemake.log[0])
mock = snakemake.params.mock
catalog, truth = simulate_catalog(
    mock["n_galaxies"], mock["seed"], snakemake.params.cuts, image_z_terms=mock["image_z_terms"]
)
gio.write_parquet(snakemake.output.truth, truth)
gio.write_parquet(snakemake.output.catalog, catalog)
log.info(
    "wrote %d galaxies to %s and their truth to %s",
    len(catalog),
    snakemake.output.catalog,
    snakemake.output.truth,
)

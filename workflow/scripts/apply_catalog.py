"""The apply catalogue, checked (objID and no positions needed with apply.images); for the mock
survey also the mock galaxies at its positions."""

from galcnn import storage
from galcnn.apply import mock_truth, read_catalog

log = storage.setup_logging(snakemake.log[0])
catalog = read_catalog(
    snakemake.input.catalog,
    targets=snakemake.params.targets,
    positions=snakemake.params.get("positions", True),
)
if snakemake.output.truth:
    mock = snakemake.params.mock
    storage.write_parquet(
        snakemake.output.truth[0], mock_truth(catalog, mock["seed"], mock["cuts"])
    )
storage.write_parquet(snakemake.output.catalog, catalog)
log.info(
    "%s: %d galaxies, columns %s", snakemake.input.catalog, len(catalog), list(catalog.columns)
)

"""The apply catalogue, checked (objID and no positions needed with apply.images); for the mock
survey also the mock galaxies at its positions."""

from galcnn import storage
from galcnn.apply import mock_truth, read_catalog, with_mock_sizes

log = storage.setup_logging(snakemake.log[0])
params = snakemake.params
catalog = read_catalog(
    snakemake.input.catalog,
    targets=params.targets,
    positions=params.get("positions", True),
    needs_size=params.needs_size,
)
if snakemake.output.truth:
    mock = params.mock
    truth = mock_truth(catalog, mock["seed"], mock["cuts"])
    storage.write_parquet(snakemake.output.truth[0], truth)
    catalog = with_mock_sizes(catalog, truth)
storage.write_parquet(snakemake.output.catalog, catalog)
log.info(
    "%s: %d galaxies, columns %s", snakemake.input.catalog, len(catalog), list(catalog.columns)
)

"""The local catalogue (survey: local), checked, as the workflow's catalogue."""

from galcnn import storage
from galcnn.local import read_catalog

log = storage.setup_logging(snakemake.log[0])
catalog = read_catalog(list(snakemake.input.catalog), snakemake.params.targets)
storage.write_parquet(snakemake.output.catalog, catalog)
log.info(
    "%s: %d galaxies, columns %s",
    list(snakemake.input.catalog),
    len(catalog),
    list(catalog.columns),
)

"""results/apply/<name>.parquet and .csv: the catalogue with predictions, status and flags."""

import pandas as pd

from galcnn import apply, cutouts, storage

log = storage.setup_logging(snakemake.log[0])
i = snakemake.input
catalog = pd.read_parquet(i.catalog)
status = apply.cutout_status(
    catalog,
    cutouts.read_manifests(i.manifests),
    pd.read_parquet(i.index),
    pd.read_parquet(i.excluded),
)
predictions = {t: pd.read_parquet(p) for t, p in zip(snakemake.params.targets, i.predictions)}
ranges = apply.training_ranges(pd.read_parquet(i.training_catalog), pd.read_parquet(i.splits))
table = apply.assemble(catalog, status, predictions, ranges)
storage.write_parquet(snakemake.output.table, table)
storage.write_csv(snakemake.output.csv, apply.spreadsheet_safe(table))
log.info(
    "%d galaxies: status %s; %d flagged",
    len(table),
    table["status"].value_counts().to_dict(),
    int((table["flags"] != "").sum()),
)

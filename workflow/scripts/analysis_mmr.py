"""Scatter of metallicity at fixed stellar mass, SDSS against CNN -> results/tables/mmr.csv."""

from galcnn import storage
from galcnn.mmr import build_mmr_table, mmr_edges

storage.setup_logging(snakemake.log[0])

mmr = snakemake.params.mmr
build_mmr_table(
    z_predictions_path=snakemake.input.metallicity,
    catalog_path=snakemake.input.catalog,
    mass_predictions_path=snakemake.input.mass[0] if snakemake.input.mass else None,
    edges=mmr_edges(mmr["mass_min"], mmr["mass_max"], mmr["step"]),
    out_path=snakemake.output[0],
    min_mass=mmr["min_mass"],
    z_true=mmr["z_true"],
    min_count=mmr["min_count"],
)

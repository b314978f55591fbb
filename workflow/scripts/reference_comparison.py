"""Ours against the published predictions on the common test galaxies (rule reference_comparison)."""

from galcnn import storage
from galcnn.reference import build_comparison

storage.setup_logging(snakemake.log[0])
build_comparison(
    prediction_paths=dict(zip(snakemake.params.resolutions, snakemake.input.cnn, strict=True)),
    status_path=snakemake.input.reference_status,
    reference_paths=dict(zip(snakemake.params.published, snakemake.input.reference, strict=True)),
    csv_path=snakemake.output[0],
)

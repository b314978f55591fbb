"""Our predictions against the published ones on the common test galaxies (rule figure_fig_reference_comparison)."""

from galcnn import storage
from galcnn.figures.fig_reference_comparison import make_reference_comparison

storage.setup_logging(snakemake.log[0])
make_reference_comparison(
    prediction_paths=dict(zip(snakemake.params.resolutions, snakemake.input.cnn, strict=True)),
    status_path=snakemake.input.reference_status,
    reference_paths=dict(zip(snakemake.params.published, snakemake.input.reference, strict=True)),
    pdf_path=snakemake.output.pdf,
    png_path=snakemake.output.png,
)

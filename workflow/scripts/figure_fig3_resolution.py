"""Figure 3: RMSE and NMAD against image size, with the baselines and the published curve."""

from galcnn import storage
from galcnn.figures.fig3_resolution import make_resolution

storage.setup_logging(snakemake.log[0])
make_resolution(
    prediction_paths=dict(zip(snakemake.params.resolutions, snakemake.input.cnn, strict=True)),
    # No random forest when a local catalogue has no magnitudes.
    baseline_paths={m: snakemake.input[m] for m in ("mean", "rf") if m in snakemake.input.keys()},
    pdf_path=snakemake.output.pdf,
    png_path=snakemake.output.png,
    reference_status=snakemake.input.get("reference_status"),
    reference_paths=dict(
        zip(snakemake.params.published, snakemake.input.get("reference", []), strict=True)
    ),
)

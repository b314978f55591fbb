"""Figure 2 from the authors' published predictions (rule figure_fig2_published)."""

from galcnn import storage
from galcnn.figures.fig2_predicted_vs_true import make_published_predicted_vs_true

storage.setup_logging(snakemake.log[0])
make_published_predicted_vs_true(
    snakemake.input.reference_status,
    snakemake.input.predictions,
    snakemake.params.resolution,
    snakemake.output.pdf,
    snakemake.output.png,
)

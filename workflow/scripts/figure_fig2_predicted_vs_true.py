"""Figure 2: predicted against true metallicity with binned scatter."""

from galcnn import storage
from galcnn.figures.fig2_predicted_vs_true import make_predicted_vs_true

storage.setup_logging(snakemake.log[0])
make_predicted_vs_true(snakemake.input.predictions, snakemake.output.pdf, snakemake.output.png)

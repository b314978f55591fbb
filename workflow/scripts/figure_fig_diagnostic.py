"""Diagnostic figure: r-band-only CNN and colour random forest against the gri CNN."""

from galcnn import storage
from galcnn.figures.fig_diagnostic import make_diagnostic

storage.setup_logging(snakemake.log[0])
models = {
    key: snakemake.input[key] for key in ("cnn_gri", "cnn_r", "rf") if key in snakemake.input.keys()
}
make_diagnostic(models, snakemake.output.pdf, snakemake.output.png)

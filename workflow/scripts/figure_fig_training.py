"""Training curves of every fold model, from their history.csv files."""

from galcnn import storage
from galcnn.figures.fig_training import make_training

storage.setup_logging(snakemake.log[0])
make_training(
    history_paths=list(snakemake.input.histories),
    models=snakemake.params.models,
    pdf_path=snakemake.output.pdf,
    png_path=snakemake.output.png,
)

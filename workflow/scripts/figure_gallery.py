"""Figure 1: galaxies with the lowest/highest predictions and residuals, and at random."""

from galcnn.figures.gallery import make_gallery
from galcnn.io import setup_logging

setup_logging(snakemake.log[0])
make_gallery(
    predictions_path=snakemake.input.predictions,
    images_path=snakemake.input.images,
    index_path=snakemake.input.index,
    seed=snakemake.params.seed,
    pdf_path=snakemake.output.pdf,
    png_path=snakemake.output.png,
)

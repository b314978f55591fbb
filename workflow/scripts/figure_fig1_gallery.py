"""Figure 1: galaxies with the lowest/highest predictions and residuals, and at random."""

from galcnn import storage
from galcnn.figures.fig1_gallery import make_gallery

storage.setup_logging(snakemake.log[0])
make_gallery(
    gallery_path=snakemake.input.gallery,
    pdf_path=snakemake.output.pdf,
    png_path=snakemake.output.png,
)

"""MMR figure: metallicity against stellar mass for SDSS and the CNN, with the scatter ratio."""

from galcnn import storage
from galcnn.figures.fig_mmr import make_mmr

storage.setup_logging(snakemake.log[0])
make_mmr(
    z_predictions_path=snakemake.input.metallicity,
    catalog_path=snakemake.input.catalog,
    mmr_table_path=snakemake.input.table,
    pdf_path=snakemake.output.pdf,
    png_path=snakemake.output.png,
)

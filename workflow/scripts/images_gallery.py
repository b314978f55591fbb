"""The galaxies figure 1 shows and their images, from the packed native-resolution array."""

from galcnn import storage
from galcnn.figures.fig1_gallery import extract_gallery

storage.setup_logging(snakemake.log[0])
extract_gallery(
    predictions_path=snakemake.input.predictions,
    images_path=snakemake.input.images,
    index_path=snakemake.input.index,
    seed=snakemake.params.seed,
    out_path=snakemake.output[0],
)

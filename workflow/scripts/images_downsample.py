"""Area-average the native array to one resolution."""

from galcnn import images, storage

storage.setup_logging(snakemake.log[0])
images.downsample_file(snakemake.input[0], snakemake.output[0], int(snakemake.wildcards.res))

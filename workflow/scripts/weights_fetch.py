"""Put the ImageNet weights of one ResNet where training reads them (rule weights_fetch)."""

from galcnn import storage
from galcnn.cnn.model import fetch_weights

storage.setup_logging(snakemake.log[0])
fetch_weights(
    snakemake.wildcards.arch,
    snakemake.output[0],
    weights_file=snakemake.config["train"]["weights_file"],
)

"""One target's predictions for the apply catalogue's packed images, from its exported model."""

from pathlib import Path

from galcnn import storage
from galcnn.pipeline import reproducibility

mode = snakemake.params.reproducibility
# Before torch is imported: ATen and oneDNN read their kernel level once.
reproducibility.pin_environment(mode, snakemake.params.threads)

from galcnn.cnn import runtime  # noqa: E402
from galcnn.cnn.portable import load, predict_packed  # noqa: E402

log = storage.setup_logging(snakemake.log[0])
runtime.configure(mode)
# Under model.json's thread count, the one the workflow's own predictions were made with.
model = load(Path(snakemake.input.model).parent)
out = predict_packed(
    model,
    snakemake.input.images,
    snakemake.input.index,
    batch_size=snakemake.config["predict"]["batch_size"],
)
storage.write_parquet(snakemake.output[0], out)
log.info(
    "predicted %s for %d galaxies with %s on %s (%d threads)",
    model.meta["target"],
    len(out),
    snakemake.input.model,
    model.device,
    model.threads,
)

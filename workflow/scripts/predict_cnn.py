"""Test and validation predictions of one trained model, with TTA (rule predict_cnn)."""

from galcnn import storage
from galcnn.pipeline import reproducibility

mode = snakemake.params.reproducibility
# Before torch is imported: ATen and oneDNN read their kernel level once. Predictions always run
# on the configured threads (galcnn.cnn.predict), so the exported model can repeat them.
reproducibility.pin_environment(mode, snakemake.params.threads)

from galcnn.cnn.predict import predict_cnn  # noqa: E402

storage.setup_logging(snakemake.log[0])
predict_cnn(
    snakemake.input.model,
    snakemake.input.images,
    snakemake.input.index,
    snakemake.input.splits,
    snakemake.input.catalog,
    snakemake.output[0],
    batch_size=snakemake.config["predict"]["batch_size"],
    tta=snakemake.params.tta,
    tta_mode=snakemake.params.tta_mode,
    threads=snakemake.params.threads,
    reproducibility=mode,
)

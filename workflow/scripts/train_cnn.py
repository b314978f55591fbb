"""Train the CNN of one target, band set, resolution and fold (rule train_cnn)."""

from galcnn import storage
from galcnn.pipeline import reproducibility

mode = snakemake.params.reproducibility
threads = reproducibility.job_threads(mode, snakemake.params.threads, snakemake.threads)
# Before torch is imported: ATen and oneDNN read their kernel level once.
reproducibility.pin_environment(mode, threads)

from galcnn.cnn.train import train_cnn  # noqa: E402

storage.setup_logging(snakemake.log[0])
wc = snakemake.wildcards
train_cnn(
    snakemake.input.images,
    snakemake.input.index,
    snakemake.input.splits,
    snakemake.input.catalog,
    dict(snakemake.output.items()),
    target=wc.target,
    bands=wc.bands,
    res=int(wc.res),
    fold=int(wc.fold),
    settings=snakemake.params.train,
    seed=snakemake.params.seed,
    weights=snakemake.input.get("weights"),
    threads=threads,
    reproducibility=mode,
)

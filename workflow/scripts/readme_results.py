"""The README's results block from the summary and a model's reproducibility record (rule readme_results)."""

from galcnn import storage
from galcnn.report.readme import write_block

storage.setup_logging(snakemake.log[0])
write_block(snakemake.input.summary, snakemake.input.model_config, snakemake.output[0])

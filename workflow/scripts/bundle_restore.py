"""Verify a results bundle against its manifest and the configuration, then restore its files."""

from galcnn import storage
from galcnn.bundle import restore_bundle

storage.setup_logging(snakemake.log[0])
restore_bundle(
    source=snakemake.params.source,
    outputs=list(snakemake.output),
    expected_layout=snakemake.params.layout,
    max_unpacked_mb=snakemake.params.max_unpacked_mb,
)

"""Verify a results bundle against its manifest and the configuration, then restore its files."""

from galcnn import io as gio
from galcnn.bundle import restore_bundle

gio.setup_logging(snakemake.log[0])
restore_bundle(
    source=snakemake.params.source,
    outputs=list(snakemake.output),
    expected_layout=snakemake.params.layout,
)

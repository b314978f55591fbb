"""Fetch, verify and store the published test-set predictions (rule reference_fetch)."""

from galcnn import storage
from galcnn.reference import PublishedFile, fetch_reference

storage.setup_logging(snakemake.log[0])
ref = snakemake.config["reference"]
files = [
    PublishedFile(int(f["resolution"]), f["name"], f["sha256"]) for f in snakemake.params.files
]
fetch_reference(
    files,
    outputs={f.resolution: path for f, path in zip(files, snakemake.output.tables, strict=True)},
    status_path=snakemake.output.status,
    base_url=ref["url"],
    commit=ref["commit"],
    folder=ref["folder"],
    local_dir=ref["local_dir"],
    target=snakemake.params.target,
    bands=ref["bands"],
    retries=ref["retries"],
    timeout=ref["timeout"],
)

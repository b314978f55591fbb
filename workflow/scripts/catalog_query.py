"""One right-ascension partition of the paper's catalogue query, run on SkyServer."""

from galcnn import storage
from galcnn.sdss import query

storage.setup_logging(snakemake.log[0])
p = snakemake.params.query
query.query_partition(
    cuts=p["cuts"],
    part=int(snakemake.wildcards.part),
    n_parts=p["partitions"],
    out_parquet=snakemake.output.table,
    out_sql=snakemake.output.sql,
    url=snakemake.config["sdss"]["url"],
    data_release=p["data_release"],
    retries=snakemake.config["query"]["retries"],
)

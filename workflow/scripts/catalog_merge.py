"""Merge the query partitions into the typed catalogue."""

from galcnn import storage
from galcnn.sdss import query

storage.setup_logging(snakemake.log[0])
query.merge_partitions(
    parts=list(snakemake.input.parts),
    sqls=list(snakemake.input.sql),
    cuts=snakemake.params.cuts,
    out_catalog=snakemake.output.catalog,
    out_sql=snakemake.output.sql,
)

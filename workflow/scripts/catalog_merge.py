"""Merge the query partitions into the typed catalogue."""

from galcnn import query
from galcnn.io import setup_logging

setup_logging(snakemake.log[0])
query.merge_partitions(
    parts=list(snakemake.input.parts),
    sqls=list(snakemake.input.sql),
    cuts=snakemake.params.cuts,
    out_catalog=snakemake.output.catalog,
    out_sql=snakemake.output.sql,
)

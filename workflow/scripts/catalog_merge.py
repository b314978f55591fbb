"""Merge the query partitions into the typed catalogue; optionally mirror it in CasJobs MyDB."""

from galcnn import casjobs, query
from galcnn.io import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
query.merge_partitions(
    parts=list(snakemake.input.parts),
    cuts=p.cuts,
    out_catalog=snakemake.output.catalog,
    out_sql=snakemake.output.sql,
)
if p.casjobs["enabled"]:
    casjobs.submit_job(
        query.render_sql(p.cuts, into=f"mydb.{p.casjobs['table']}"),
        url=p.casjobs["url"],
        token_env=p.casjobs["token_env"],
        context=f"DR{p.data_release}",
    )

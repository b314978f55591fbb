"""Submit the catalogue query to CasJobs (SELECT ... INTO mydb.<table>) and keep the job record."""

from galcnn import storage
from galcnn.sdss import casjobs, query

storage.setup_logging(snakemake.log[0])
p = snakemake.params
cfg = snakemake.config["query"]["casjobs"]
record = casjobs.submit_job(
    query.render_sql(p.cuts, into=f"mydb.{p.table}"),
    url=cfg["url"],
    token_env=cfg["token_env"],
    context=f"DR{p.data_release}",
    # Beside the output, so a rerun resumes the submitted job instead of submitting again.
    job_file=f"{snakemake.output[0]}.job",
)
storage.write_json(snakemake.output[0], record)

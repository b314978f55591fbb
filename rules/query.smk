# The catalogue from SkyServer: the paper's SQL (draft 002, section 3), one job per
# range of right ascension, merged and re-checked against the same cuts. Nothing
# here touches the network while the DAG is built; only the jobs do.


rule catalog_query:
    output:
        table=QUERY_PART,
        sql=QUERY_PART.replace(".parquet", ".sql"),
    log:
        log_path("catalog_query", "part{part}"),
    benchmark:
        bench_path("catalog_query", "part{part}")
    # A network job that failed (an outage, a dropped connection after every retry of its
    # requests) runs again twice before the run gives up.
    retries: 2
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        sdss_http=1,
        runtime=60,
    params:
        # What determines the rows; the server address and query.retries do not,
        # so the script reads them from the config and changing them reruns nothing.
        query=canonical(
            {
                "data_release": config["sdss"]["data_release"],
                "partitions": config["query"]["partitions"],
                "cuts": config["query"]["cuts"],
            }
        ),
    script:
        "../workflow/scripts/catalog_query.py"


rule catalog_merge:
    input:
        parts=expand(QUERY_PART, part=part_ids()),
        sql=expand(QUERY_PART.replace(".parquet", ".sql"), part=part_ids()),
    output:
        catalog=CATALOG,
        sql=CATALOG_SQL,
    log:
        log_path("catalog_merge"),
    benchmark:
        bench_path("catalog_merge")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        cuts=canonical(config["query"]["cuts"]),
    script:
        "../workflow/scripts/catalog_merge.py"


# Optional: the same query as a CasJobs job (SELECT ... INTO mydb.<table>), for users who want
# the table in their MyDB. Its own job, so enabling it touches no catalogue; the service URL and
# the token's variable name are read by the script (they do not change the table).
rule catalog_casjobs:
    output:
        CASJOBS_RECORD,
    log:
        log_path("catalog_casjobs"),
    # A failed poll runs the job again, which resumes the same CasJobs job (its id is kept).
    retries: 2
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        sdss_http=1,
        runtime=90,
    params:
        cuts=canonical(config["query"]["cuts"]),
        data_release=config["sdss"]["data_release"],
        table=config["query"]["casjobs"]["table"],
    script:
        "../workflow/scripts/catalog_casjobs.py"

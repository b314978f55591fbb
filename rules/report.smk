# The result tables as HTML pages for the report, which shows an HTML file in the page but
# offers a CSV only as a download. One rule per table, as for the figures (rules/figures.smk).


localrules:
    tables_html,


rule tables_html:
    input:
        [html for html, _ in report_tables().values()],


for table, (html, csv) in report_tables().items():

    rule:
        name:
            f"table_html_{table}"
        input:
            csv,
        output:
            report(html, caption=f"../report/{table}.rst", **report_placement(table)),
        log:
            log_path(f"table_html_{table}"),
        conda:
            "../envs/analysis.yaml"
        threads: 1
        params:
            title=table,
        script:
            "../workflow/scripts/table_html.py"

"""A result table as an HTML page, which the report shows in place (rule table_html_<name>)."""

from galcnn import storage
from galcnn.report.tables import write_html_table

storage.setup_logging(snakemake.log[0])
write_html_table(snakemake.input[0], snakemake.output[0], title=snakemake.params.title)

"""Result tables as HTML pages: Snakemake's report shows an HTML file in the page, while a
CSV is only offered as a download."""

from __future__ import annotations

import html
import logging

import pandas as pd

from galcnn.storage import write_text

log = logging.getLogger(__name__)

STYLE = """
body { font-family: sans-serif; font-size: 13px; margin: 0.5em; }
table { border-collapse: collapse; }
th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; position: sticky; top: 0; }
td:nth-child(-n+5), th:nth-child(-n+5) { text-align: left; }
"""


def write_html_table(csv_path: str, html_path: str, title: str, digits: int = 4) -> pd.DataFrame:
    """The CSV as one self-contained HTML page (floats to ``digits`` decimals, missing as blank)."""
    table = pd.read_csv(csv_path, keep_default_na=False, na_values=[""])
    body = table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.{digits}f}", border=0)
    page = (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
    write_text(html_path, page)
    log.info("wrote %s (%d rows)", html_path, len(table))
    return table

"""galcnn.report.tables: result tables as HTML pages the report shows in place."""

from __future__ import annotations

import pandas as pd

from galcnn.report.tables import write_html_table


def test_html_table_holds_every_row_and_rounds_floats(tmp_path):
    csv = tmp_path / "summary.csv"
    pd.DataFrame(
        {"method": ["cnn", "rf"], "rmse": [0.0834567, 0.1296], "paper_rmse": [0.0835, None]}
    ).to_csv(csv, index=False)
    html = tmp_path / "summary.html"
    table = write_html_table(str(csv), str(html), title="summary <test>")
    page = html.read_text()
    assert len(table) == 2 and page.count("<tr") == 3  # header and two rows
    assert "0.0835" in page and "0.0834567" not in page and "NaN" not in page
    assert "<title>summary &lt;test&gt;</title>" in page
    assert not list(tmp_path.glob(".*")), "temporary file left behind"

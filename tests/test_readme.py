"""The README's results block: rendered from a summary and a model's record, spliced between markers."""

import pandas as pd
import pytest
from test_summary import baseline, predictions, validation

from galcnn.report import readme
from galcnn.summary import summary_table

RECORD = {
    "mode": "portable",
    "cpu_capability": "AVX2",
    "intra_op_threads": 1,
    "versions": {"torch": "2.14.1", "numpy": "2.3.0"},
}


@pytest.fixture
def summary(tmp_path):
    cnn = {
        ("oh_p50", "gri", 32): (predictions(seed=1), validation()),
        ("oh_p50", "gri", 8): (predictions(seed=2), validation()),
    }
    baselines = {("rf", "oh_p50"): baseline(value=8.95), ("mean", "oh_p50"): baseline()}
    table = summary_table(cnn, baselines)
    table.to_csv(tmp_path / "summary.csv", index=False)
    return pd.read_csv(tmp_path / "summary.csv")


def test_the_block_quotes_the_summary_and_the_machine(summary):
    block = readme.results_block(summary, RECORD, "Test CPU 9000")
    ens = summary[(summary["variant"] == "ensemble")].set_index("resolution")
    rf = summary[summary["method"] == "rf"].iloc[0]
    assert block.startswith(readme.BEGIN) and block.rstrip().endswith(readme.END)
    assert f"{ens.loc[32, 'rmse']:.4f} at 32 px, {ens.loc[8, 'rmse']:.4f} at 8 px" in block
    assert f"ensemble − forest {ens.loc[32, 'delta_rf_rmse']:+.4f} dex" in block
    assert f"random forest: RMSE {rf['rmse']:.4f}" in block
    assert (
        "`reproducibility: portable` mode with AVX2 kernels" in block and "Test CPU 9000" in block
    )


def test_splice_replaces_only_the_block():
    text = f"intro\n{readme.BEGIN}\nold numbers\n{readme.END}\noutro\n"
    block = f"{readme.BEGIN}\nnew\n{readme.END}\n"
    assert readme.splice(text, block) == f"intro\n{readme.BEGIN}\nnew\n{readme.END}\noutro\n"
    with pytest.raises(ValueError, match="the README has no results block"):
        readme.splice("no markers", block)


def test_the_repository_readme_has_a_block():
    from conftest import REPO

    text = (REPO / "README.md").read_text()
    assert text.count(readme.BEGIN) == 1 and text.count(readme.END) == 1

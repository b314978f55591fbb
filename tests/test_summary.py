"""The summary table: one row per method x target x bands x resolution x variant."""

import numpy as np
import pandas as pd
import pytest

from galcnn import bootstrap
from galcnn.summary import (
    COLUMNS,
    COMPARISON_COLUMNS,
    PAPER_VALUES,
    build_summary,
    summary_markdown,
    summary_table,
)


def predictions(n=50, folds=2, seed=0, objid_offset=0):
    rng = np.random.default_rng(seed)
    true = rng.normal(8.9, 0.2, n)
    frame = pd.DataFrame({"objID": np.arange(n) + objid_offset, "true": true})
    for k in range(folds):
        frame[f"pred_fold{k}"] = true + rng.normal(0, 0.1, n)
        frame[f"pred_fold{k}_notta"] = true + rng.normal(0, 0.12, n)
    frame["pred"] = frame[[f"pred_fold{k}" for k in range(folds)]].mean(axis=1)
    frame["pred_notta"] = frame[[f"pred_fold{k}_notta" for k in range(folds)]].mean(axis=1)
    return frame


def validation(n=80, seed=1):
    rng = np.random.default_rng(seed)
    true = rng.normal(8.9, 0.2, n)
    return pd.DataFrame(
        {
            "objID": np.arange(n),
            "true": true,
            "fold": np.arange(n) % 2,
            "pred": true + 0.1,
            "pred_notta": true,
        }
    )


def baseline(n=50, value=8.9):
    true = np.random.default_rng(2).normal(8.9, 0.2, n)
    return pd.DataFrame({"objID": np.arange(n), "true": true, "pred": np.full(n, value)})


@pytest.fixture
def table():
    cnn = {
        ("oh_p50", "gri", 128): (predictions(seed=1), validation()),
        ("oh_p50", "gri", 8): (predictions(seed=2), validation()),
        ("oh_p50", "r", 128): (predictions(seed=3), None),
    }
    baselines = {("rf", "oh_p50"): baseline(value=8.95), ("mean", "oh_p50"): baseline()}
    return summary_table(cnn, baselines)


def test_columns_and_rows(table):
    assert tuple(table.columns) == COLUMNS + COMPARISON_COLUMNS
    # per CNN configuration: ensemble, ensemble_notta, fold0, fold1 (+ validation when given)
    assert len(table) == 5 + 5 + 4 + 2
    cnn = table[table["method"] == "cnn"]
    assert set(cnn["variant"]) == {"ensemble", "ensemble_notta", "validation", "fold0", "fold1"}
    assert table["method"].tolist()[-2:] == ["rf", "mean"]
    rf, mean = table.iloc[-2], table.iloc[-1]
    assert (rf["bands"], rf["variant"], mean["bands"], mean["variant"]) == (
        "gri",
        "rf",
        "-",
        "mean",
    )
    assert pd.isna(rf["resolution"]) and pd.isna(mean["resolution"])
    assert cnn["resolution"].tolist()[:5] == [128] * 5  # largest images first


def test_values_are_the_metrics_of_the_right_column(table):
    test = predictions(seed=1)
    row = table[
        (table["bands"] == "gri") & (table["resolution"] == 128) & (table["variant"] == "fold1")
    ].iloc[0]
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((test["pred_fold1"] - test["true"]) ** 2)))
    assert row["n"] == 50
    val = table[(table["variant"] == "validation")].iloc[0]
    assert (
        val["n"] == 80 and val["rmse"] == pytest.approx(0.1) and val["nmad"] == pytest.approx(0.0)
    )


def test_paper_values_compare_like_with_like(table):
    """Single-model rows beside the paper's single model, the ensemble beside its ensemble,
    at the top resolution only, each saying which part of the paper it uses."""
    with_paper = table[table["paper_rmse"].notna()]
    assert with_paper[["method", "bands", "resolution", "variant"]].astype(
        object
    ).values.tolist() == [
        ["cnn", "gri", 128, "ensemble"],
        ["cnn", "gri", 128, "fold0"],
        ["cnn", "gri", 128, "fold1"],
        ["rf", "gri", pd.NA, "rf"],
    ]
    ensemble, fold0, _, rf = (with_paper.iloc[i] for i in range(4))
    assert (ensemble["paper_rmse"], np.isnan(ensemble["paper_nmad"])) == (0.0835, True)
    assert (fold0["paper_rmse"], fold0["paper_nmad"]) == (0.085, 0.0668)
    assert (rf["paper_rmse"], rf["paper_nmad"]) == (0.1296, 0.1059)
    # Each value says exactly what it is: the text's single model, a joint model's ensemble, a
    # notebook's 40-tree forest (not the default forest Fig. 3 plots).
    assert (
        fold0["paper_figure"].startswith("the text's single model")
        and "notebook 11" in fold0["paper_figure"]
    )
    assert "joint model's 5-fold ensemble" in ensemble["paper_figure"]
    assert "40 trees" in rf["paper_figure"] and "default forest" in rf["paper_figure"]
    assert (table["paper_figure"] != "").sum() == 4
    assert with_paper["paper_source"].tolist() == ["earlier draft", "paper", "paper", "notebook"]
    # The fixture is real-sky 128 px: only the test set (and the ensemble's model) differ.
    assert set(table["survey"]) == {"sdss"}
    assert fold0["like_for_like"] == "no: test set: the text's own random split"
    assert ensemble["like_for_like"].startswith("no: model: a joint model's ensemble")


def test_mock_rows_say_they_are_not_like_the_real_sky():
    """Mock 32 px rows beside the authors' real-sky 128 px values say both differences."""
    table = summary_table({("oh_p50", "gri", 32): (predictions(seed=5), None)}, {}, survey="mock")
    fold0 = table[table["variant"] == "fold0"].iloc[0]
    assert fold0["survey"] == "mock" and fold0["paper_nmad"] == 0.0668
    assert fold0["like_for_like"] == (
        "no: data: the mock survey, the authors' is real SDSS; resolution: 32 px, the authors' 128 px; "
        "test set: the text's own random split"
    )
    assert (table["like_for_like"] != "").sum() == 3  # the ensemble and both folds


def test_mass_rows_get_the_papers_cnn_mass_scatter():
    table = summary_table({("lgm_tot_p50", "gri", 32): (predictions(seed=4), None)}, {})
    single = table[table["variant"].str.startswith("fold")]
    assert (single["paper_rmse"] == PAPER_VALUES[("cnn", "lgm_tot_p50", "gri", "single")][0]).all()
    assert single["paper_figure"].str.contains("joint four-output model").all()
    assert single["paper_figure"].str.contains("not Fig. 4's mass-only model").all()
    assert (single["paper_source"] == "notebook").all()
    assert table.loc[table["variant"] == "ensemble", "paper_rmse"].isna().all()


def test_markdown_and_files(table, tmp_path):
    mmr = pd.DataFrame(
        [
            {
                "comparison": "cnn_metallicity",
                "kind": "weighted",
                "ratio": 0.8,
                "ratio_spread": 0.07,
                "n_cnn": 500,
            }
        ]
    )
    md = summary_markdown(table, mmr)
    assert "| method" in md and "0.800 ± 0.070" in md and "paper: 0.821 ± 0.077" in md
    assert "| paper_figure" in md and "the text's single model" in md and "| like_for_like" in md

    paths = {}
    for name, frame in (
        ("t", predictions()),
        ("v", validation()),
        ("rf", baseline()),
        ("mean", baseline()),
    ):
        paths[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(paths[name])
    out = build_summary(
        {("oh_p50", "gri", 4): (paths["t"], paths["v"])},
        {("rf", "oh_p50"): paths["rf"], ("mean", "oh_p50"): paths["mean"]},
        None,
        tmp_path / "s.csv",
        tmp_path / "s.md",
    )
    back = pd.read_csv(tmp_path / "s.csv")
    assert len(back) == len(out) == 7 and list(back.columns) == [*COLUMNS, *COMPARISON_COLUMNS]
    assert (tmp_path / "s.md").read_text().startswith("# Results")


def test_missing_prediction_columns_are_refused():
    with pytest.raises(ValueError, match="pred_fold"):
        summary_table(
            {
                ("oh_p50", "gri", 4): (
                    predictions().drop(columns=["pred_fold0", "pred_fold1"]),
                    None,
                )
            },
            {},
        )


def test_each_cnn_row_carries_its_paired_bootstrap_against_each_baseline(table):
    test = predictions(seed=1)
    ens = table[
        (table["resolution"] == 128) & (table["bands"] == "gri") & (table["variant"] == "fold1")
    ]
    row = ens.iloc[0]
    rf = baseline(value=8.95)
    expected = bootstrap.paired_difference(
        test["pred_fold1"] - test["true"], rf["pred"] - rf["true"], seed=0
    )
    assert (row["delta_rf_rmse"], row["delta_rf_lo"], row["delta_rf_hi"]) == expected["rmse"]
    assert (row["delta_rf_nmad"], row["delta_rf_nmad_lo"], row["delta_rf_nmad_hi"]) == expected[
        "nmad"
    ]
    assert row["delta_rf_rmse"] == pytest.approx(row["rmse"] - table.iloc[-2]["rmse"])
    # Every variant against each baseline's own predictions, the ensemble's column "pred" too.
    rows = table[(table["method"] == "cnn") & (table["variant"] != "validation")]
    for method, other in (("rf", table.iloc[-2]), ("mean", table.iloc[-1])):
        assert rows[f"delta_{method}_rmse"].to_numpy() == pytest.approx(
            (rows["rmse"] - other["rmse"]).to_numpy()
        )
        assert (rows[f"delta_{method}_rmse"] != 0).all()
    # The CNN's 0.1 dex scatter against the mean's 0.2 dex: clearly better, the interval below 0.
    assert row["delta_mean_hi"] < 0
    folds = table[(table["resolution"] == 128) & (table["bands"] == "gri")]
    spread = np.std(folds.loc[folds["variant"].isin(["fold0", "fold1"]), "rmse"], ddof=1)
    assert folds["fold_spread_rmse"].dropna().tolist() == pytest.approx([spread] * 4)
    # Baselines, the validation rows (other galaxies) and published rows carry no comparison.
    assert table.loc[table["method"] != "cnn", "delta_rf_rmse"].isna().all()
    assert table.loc[table["variant"] == "validation", "delta_rf_rmse"].isna().all()


def test_the_summary_says_which_differences_are_resolved(table):
    text = summary_markdown(table)
    line = next(x for x in text.splitlines() if x.startswith("- oh_p50 gri 128 px ensemble"))
    assert "against the mean baseline" in line and "better, resolved" in line
    assert "Its folds' RMSEs spread by" in line
    assert "paired bootstrap over the test galaxies" in text and "nan" not in text


def test_the_bootstrap_is_seeded_and_its_interval_brackets_the_difference():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 0.1, 300), rng.normal(0, 0.12, 300)
    one = bootstrap.paired_difference(a, b, seed=3, resamples=1000)
    assert one == bootstrap.paired_difference(a, b, seed=3, resamples=1000)
    assert one != bootstrap.paired_difference(a, b, seed=4, resamples=1000)
    for value, lo, hi in one.values():
        assert lo < value < hi
    # Against itself every resample differs by exactly 0: nothing resolved.
    same = bootstrap.paired_difference(a, a, seed=3, resamples=300)
    assert same["rmse"] == (0.0, 0.0, 0.0) and not bootstrap.resolved(*same["rmse"][1:])
    # The chunked resampling is the plain one: resample k takes the k-th row of indices.
    idx = np.random.default_rng(3).integers(0, 300, (250, 300))
    plain = [np.sqrt(np.mean(a[i] ** 2)) - np.sqrt(np.mean(b[i] ** 2)) for i in idx]
    few = bootstrap.paired_difference(a, b, seed=3, resamples=250)
    assert few["rmse"][1] == pytest.approx(np.percentile(plain, 2.5), rel=1e-12)
    with pytest.raises(ValueError, match="300 and 299 residuals"):
        bootstrap.paired_difference(a, b[:-1], seed=3)

"""The baselines learn from exactly the split's non-test rows and predict the test rows."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor

from galcnn.baselines import MAGNITUDE_COLUMNS, baseline_rows, mean_baseline, random_forest_baseline
from galcnn.catalog import SENTINEL


def catalogue_and_splits(n_train=300, n_test=60, seed=0):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    g, r, i = (rng.uniform(14, 18, n) for _ in range(3))
    catalog = pd.DataFrame(
        {
            "objID": np.arange(10, 10 + n),
            "modelMag_g": g,
            "modelMag_r": r,
            "modelMag_i": i,
            "oh_p50": 8.9 + 0.3 * (g - r) + rng.normal(0, 0.05, n),
        }
    )
    splits = pd.DataFrame(
        {
            "objID": catalog["objID"],
            "split": ["train"] * n_train + ["test"] * n_test,
            "fold": list(np.arange(n_train) % 5) + [-1] * n_test,
        }
    )
    return catalog, splits


def test_test_rows_never_reach_the_training():
    catalog, splits = catalogue_and_splits()
    test = splits["split"] == "test"
    poisoned = catalog.copy()
    poisoned.loc[test.to_numpy(), "oh_p50"] = 1e6  # absurd truths on the test rows
    pred = random_forest_baseline(
        poisoned, splits, "oh_p50", n_estimators=10, min_samples_leaf=4, seed=1
    )
    assert pred["objID"].tolist() == splits.loc[test, "objID"].tolist()
    assert (pred["true"] == 1e6).all()
    assert pred["pred"].between(8.0, 10.0).all()
    mean = mean_baseline(poisoned, splits, "oh_p50")
    assert mean["pred"].unique().tolist() == pytest.approx(
        [catalog.loc[~test.to_numpy(), "oh_p50"].mean()]
    )


def test_forest_is_the_one_fitted_on_all_training_folds():
    catalog, splits = catalogue_and_splits()
    train = catalog[(splits["split"] == "train").to_numpy()]
    test = catalog[(splits["split"] == "test").to_numpy()]
    expected = (
        RandomForestRegressor(n_estimators=10, min_samples_leaf=4, random_state=3)
        .fit(train[list(MAGNITUDE_COLUMNS)].to_numpy(), train["oh_p50"].to_numpy())
        .predict(test[list(MAGNITUDE_COLUMNS)].to_numpy())
    )
    pred = random_forest_baseline(
        catalog, splits, "oh_p50", n_estimators=10, min_samples_leaf=4, seed=3, n_jobs=1
    )
    np.testing.assert_allclose(pred["pred"], expected)
    rmse_rf = np.sqrt(np.mean((pred["pred"] - pred["true"]) ** 2))
    rmse_mean = np.sqrt(
        np.mean((mean_baseline(catalog, splits, "oh_p50")["pred"] - pred["true"]) ** 2)
    )
    assert rmse_rf < rmse_mean  # colours carry the signal


def test_the_forest_does_not_depend_on_the_thread_count():
    """Trees grown on 1 or 3 threads are the same trees, and the prediction sums them in tree
    order (on 3 threads scikit-learn sums them in the order the threads finish)."""
    catalog, splits = catalogue_and_splits(n_train=400, n_test=200)
    one, three = (
        random_forest_baseline(
            catalog, splits, "oh_p50", n_estimators=30, min_samples_leaf=2, seed=4, n_jobs=n
        )
        for n in (1, 3)
    )
    pd.testing.assert_frame_equal(one, three, check_exact=True)
    train = catalog[(splits["split"] == "train").to_numpy()]
    forest = RandomForestRegressor(n_estimators=30, min_samples_leaf=2, random_state=4).fit(
        train[list(MAGNITUDE_COLUMNS)].to_numpy(), train["oh_p50"].to_numpy()
    )
    x = catalog.loc[(splits["split"] == "test").to_numpy(), list(MAGNITUDE_COLUMNS)].to_numpy()
    in_order = np.zeros(len(x))
    for tree in forest.estimators_:
        in_order += tree.predict(x)
    np.testing.assert_array_equal(three["pred"], in_order / len(forest.estimators_))


def test_missing_targets_are_dropped_and_counted(caplog):
    catalog, splits = catalogue_and_splits()
    catalog.loc[[0, 1, 350], "oh_p50"] = SENTINEL  # two training rows, one test row
    with caplog.at_level("INFO"):
        train, test = baseline_rows(catalog, splits, "oh_p50")
    assert len(train) == 298 and len(test) == 59
    assert "3 galaxies have no measured oh_p50" in caplog.text
    assert (
        mean_baseline(catalog, splits, "oh_p50")["pred"].iloc[0] > 8
    )  # the sentinel never enters the mean


def test_bad_splits_are_refused():
    catalog, splits = catalogue_and_splits()
    with pytest.raises(ValueError, match="unknown split labels"):
        baseline_rows(catalog, splits.assign(split="valid"), "oh_p50")
    with pytest.raises(ValueError, match="not in the catalogue"):
        baseline_rows(catalog.iloc[5:], splits, "oh_p50")


def test_the_mean_needs_no_magnitudes_the_forest_does():
    catalog, splits = catalogue_and_splits()
    bare = catalog[["objID", "oh_p50"]]  # a local survey's catalogue may have no magnitudes
    train = splits["split"] == "train"
    assert mean_baseline(bare, splits, "oh_p50")["pred"].iloc[0] == pytest.approx(
        catalog.loc[train.to_numpy(), "oh_p50"].mean()
    )
    with pytest.raises(ValueError, match="catalogue lacks columns"):
        random_forest_baseline(bare, splits, "oh_p50", n_estimators=5, min_samples_leaf=4, seed=1)

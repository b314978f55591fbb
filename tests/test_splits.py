import re

import numpy as np
import pandas as pd
import pytest

from galcnn.splits import TEST_FOLD, make_splits
from galcnn.sufficiency import (
    MIN_EVAL,
    MIN_TRAIN,
    InsufficientData,
    check_counts,
    fold_counts,
    minimums,
)


def test_splits_are_disjoint_complete_and_balanced():
    ids = np.arange(1000, 2000)
    table = make_splits(ids, 0.2, 5, seed=3)
    assert sorted(table["objID"]) == list(ids)
    test = table[table["split"] == "test"]
    assert len(test) == 200 and (test["fold"] == TEST_FOLD).all()
    train = table[table["split"] == "train"]
    assert sorted(train["fold"].unique()) == [0, 1, 2, 3, 4]
    assert train["fold"].value_counts().max() - train["fold"].value_counts().min() <= 1


def test_splits_are_stable_for_a_seed_and_independent_of_row_order():
    ids = np.arange(500) * 7 + 11
    a = make_splits(ids, 0.2, 3, seed=9)
    b = make_splits(ids[::-1].copy(), 0.2, 3, seed=9)
    assert a.equals(b)
    c = make_splits(ids, 0.2, 3, seed=10)
    assert not a["fold"].equals(c["fold"])


@pytest.mark.parametrize(
    "kwargs, match", [({"test_fraction": 1.0}, "test_fraction"), ({"folds": 50}, "folds")]
)
def test_splits_refuse_impossible_requests(kwargs, match):
    args = {"test_fraction": 0.2, "folds": 3, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        make_splits(np.arange(20), **args)


def test_splits_refuse_duplicate_ids():
    with pytest.raises(ValueError, match="duplicate"):
        make_splits([1, 2, 2, 3], 0.2, 2, 0)


def fold_inputs(n: int, missing_mass=()):
    """Index, splits (0.2 test, 2 folds) and catalogue of ``n`` galaxies; ``missing_mass``
    objIDs have lgm_tot_p50 = −9999, the last galaxy has no image."""
    ids = np.arange(100, 100 + n)
    splits = make_splits(ids, 0.2, 2, seed=1)
    index = pd.DataFrame({"objID": ids[:-1], "row": np.arange(n - 1)})
    mass = np.where(np.isin(ids, list(missing_mass)), -9999.0, 10.0)
    catalog = pd.DataFrame({"objID": ids, "oh_p50": 9.0, "lgm_tot_p50": mass})
    return index, splits, catalog


def test_fold_counts_drop_galaxies_without_image_or_target():
    index, splits, catalog = fold_inputs(101)
    val0 = splits.loc[
        (splits["fold"] == 0) & splits["objID"].isin(index["objID"]), "objID"
    ].to_numpy()
    index_, splits_, catalog_ = fold_inputs(101, missing_mass=val0[:5])
    oh = fold_counts(index, splits, catalog, "oh_p50")
    mass = fold_counts(index_, splits_, catalog_, "lgm_tot_p50")
    # 101 galaxies, one without an image: 20 test, 80 in the folds.
    assert oh["test"].tolist() == [20, 20] and (oh["train"] + oh["validation"]).tolist() == [80, 80]
    assert mass["validation"].tolist() == [oh["validation"][0] - 5, oh["validation"][1]]
    assert mass["train"].tolist() == [oh["train"][0], oh["train"][1] - 5]


def test_enough_galaxies_pass_the_check():
    index, splits, catalog = fold_inputs(101)
    check_counts(
        fold_counts(index, splits, catalog, "oh_p50"), "oh_p50", batch_size=32, survey="mock"
    )


def test_a_target_with_missing_values_is_checked_after_dropping_them():
    # Enough galaxies for oh_p50; most validation galaxies of fold 1 lack a stellar mass.
    index, splits, catalog = fold_inputs(101)
    val1 = splits.loc[
        (splits["fold"] == 1) & splits["objID"].isin(index["objID"]), "objID"
    ].to_numpy()
    index, splits, catalog = fold_inputs(101, missing_mass=val1[:30])
    check_counts(
        fold_counts(index, splits, catalog, "oh_p50"), "oh_p50", batch_size=32, survey="mock"
    )
    counts = fold_counts(index, splits, catalog, "lgm_tot_p50")
    with pytest.raises(InsufficientData) as err:
        check_counts(counts, "lgm_tot_p50", batch_size=32, survey="mock")
    message = str(err.value)
    # Fold 1's validation galaxies are fold 0's training galaxies.
    assert (
        f"fold 0: train {counts['train'][0]} < {MIN_TRAIN}; fold 1: validation {counts['validation'][1]} < {MIN_EVAL} ("
        in message
    )
    assert "lgm_tot_p50 (-9999)" in message


def test_too_few_galaxies_stop_with_the_counts_and_the_keys_to_change():
    # The run: 5 galaxies after the cuts.
    index, splits, catalog = fold_inputs(6)
    counts = fold_counts(index, splits, catalog, "oh_p50")
    assert counts[["train", "validation", "test"]].sum(axis=1).tolist() == [5, 5]
    with pytest.raises(InsufficientData) as err:
        check_counts(counts, "oh_p50", batch_size=32, survey="mock")
    message = str(err.value)
    for fold in (0, 1):
        row = counts.iloc[fold]
        assert f"fold {fold}: train {row['train']} < {MIN_TRAIN}" in message
        assert f"fold {fold}: validation {row['validation']} < {MIN_EVAL}" in message
    assert (
        message.count(f"test {counts['test'][0]} < {MIN_EVAL}") == 1
    )  # one test set for all folds
    for key in ("mock.n_galaxies", "query.cuts", "folds", "test_fraction"):
        assert key in message
    with pytest.raises(InsufficientData, match="query.partitions"):
        check_counts(counts, "oh_p50", batch_size=32, survey="sdss")


def test_a_small_batch_needs_only_itself():
    assert minimums(8)["train"] == 8 and minimums(128)["train"] == MIN_TRAIN


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.99])
def test_schema_bounds_the_test_fraction(fraction):
    from pathlib import Path

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text()) | {
        "test_fraction": fraction
    }
    with pytest.raises(WorkflowError, match="test_fraction"):
        validate(config, str(repo / "config" / "schema.yaml"))


@pytest.mark.e2e
def test_too_little_data_stops_the_run_before_any_training(workflow_copy):
    from conftest import REPO, TINY, snakemake

    # The mistake of a new user: ten mock galaxies, five of them left after the cuts.
    proc = snakemake(
        workflow_copy,
        "--configfile",
        str(TINY.relative_to(REPO)),
        "--cores",
        "2",
        "--config",
        "mock={n_galaxies: 10, seed: 1}",
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "Error in rule splits_check" in out
        and "too few galaxies with a measured oh_p50 to train and score its models" in out
    )
    assert "mock.n_galaxies" in out and "test_fraction" in out
    assert not re.search(r"^(local)?rule train_cnn:", out, re.MULTILINE), "a training job started"
    assert not (workflow_copy / "results" / "models").exists()

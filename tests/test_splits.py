import numpy as np
import pytest

from galcnn.splits import TEST_FOLD, make_splits


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


@pytest.mark.parametrize("kwargs, match", [({"test_fraction": 1.0}, "test_fraction"), ({"folds": 50}, "folds")])
def test_splits_refuse_impossible_requests(kwargs, match):
    args = {"test_fraction": 0.2, "folds": 3, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        make_splits(np.arange(20), **args)


def test_splits_refuse_duplicate_ids():
    with pytest.raises(ValueError, match="duplicate"):
        make_splits([1, 2, 2, 3], 0.2, 2, 0)

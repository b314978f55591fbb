"""Train/test split and k folds, seeded and independent of row order.

docs/paper.md: a random held-out test set (20 %) and 5 folds over the rest. Each
fold serves once as the validation set of one model, so with the paper's
settings a model trains on 64 % and validates on 16 % of the sample, and the
fold ensemble has seen all 80 % (the drafts' "60/20/20" describes a single
train/validation/test split).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from galcnn.catalog import target_mask

log = logging.getLogger(__name__)

TEST_FOLD = -1
SUBSETS = ("train", "validation", "test")


def make_splits(objids, test_fraction: float, folds: int, seed: int, test_ids=None) -> pd.DataFrame:
    """objID → split (``train``/``test``) and fold (0..k-1; −1 for test rows).

    The objIDs are sorted before shuffling, so the same catalogue and seed give
    the same splits whatever order the rows arrive in. With ``test_ids`` (the
    published test set, config ``test_set: reference``) the test set is exactly
    those of ``objids`` and ``test_fraction`` is not used; the folds split the rest.
    """
    ids = np.unique(np.asarray(objids, dtype=np.int64))
    if len(ids) != len(objids):
        raise ValueError(f"{len(objids) - len(ids)} duplicate objIDs given to make_splits")
    order = np.random.default_rng(seed).permutation(len(ids))
    if test_ids is None:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction={test_fraction!r} must lie strictly between 0 and 1")
        is_test = np.zeros(len(ids), dtype=bool)
        is_test[order[: int(round(len(ids) * test_fraction))]] = True
    else:
        is_test = np.isin(ids, np.asarray(test_ids, dtype=np.int64))
        if not is_test.any():
            raise ValueError(
                f"none of the {len(ids)} galaxies is in the given test set of {len(test_ids)} objIDs; "
                "test_set: reference needs the real SDSS catalogue the published predictions were made on"
            )
    n_test = int(is_test.sum())
    if len(ids) - n_test < folds:
        raise ValueError(
            f"{len(ids)} galaxies leave {len(ids) - n_test} for {folds} folds; need at least one per fold"
        )
    rest = order[~is_test[order]]
    fold = np.full(len(ids), TEST_FOLD, dtype=np.int64)
    fold[rest] = np.arange(len(rest)) % folds
    split = np.where(fold == TEST_FOLD, "test", "train")
    return pd.DataFrame({"objID": ids, "split": pd.array(split, dtype="string"), "fold": fold})


def labelled(
    index: pd.DataFrame, splits: pd.DataFrame, catalog: pd.DataFrame, target: str
) -> pd.DataFrame:
    """The split galaxies that can be used for ``target``: objID, split, fold, image row and target.

    Galaxies without an image or with a missing target (−9999 or non-finite) are
    dropped, and their counts logged.
    """
    for name, frame, cols in (
        ("image index", index, ("objID", "row")),
        ("splits", splits, ("objID", "split", "fold")),
        ("catalogue", catalog, ("objID", target)),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}; expected {list(cols)}")
    table = splits.merge(index[["objID", "row"]], on="objID", how="left", validate="one_to_one")
    no_image = table["row"].isna()
    if no_image.any():
        log.info(
            "%d of %d split galaxies have no image (excluded when packing); dropped",
            int(no_image.sum()),
            len(table),
        )
    table = table.loc[~no_image]
    table = table.merge(
        catalog.loc[:, ["objID", target]], on="objID", how="left", validate="one_to_one"
    )
    no_target = ~target_mask(table, target)
    if no_target.any():
        log.info(
            "%d of %d galaxies have no measured %s; dropped",
            int(no_target.sum()),
            len(table),
            target,
        )
    return table.loc[~no_target]


def subset_masks(table: pd.DataFrame, fold: int) -> dict[str, pd.Series]:
    """Rows of :func:`labelled` in each subset of ``fold``: validation = the fold's rows,
    train = the other non-test rows, test = ``split == "test"``."""
    in_folds = table["split"] == "train"
    return {
        "train": in_folds & (table["fold"] != fold),
        "validation": in_folds & (table["fold"] == fold),
        "test": table["split"] == "test",
    }

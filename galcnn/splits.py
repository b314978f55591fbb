"""Train/test split and k folds, seeded and independent of row order.

FACTS.md: a random held-out test set (20 %) and 5 folds over the rest. Each
fold serves once as the validation set of one model, so with the paper's
settings a model trains on 64 % and validates on 16 % of the sample, and the
fold ensemble has seen all 80 % (the drafts' "60/20/20" describes a single
train/validation/test split).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEST_FOLD = -1


def make_splits(objids, test_fraction: float, folds: int, seed: int) -> pd.DataFrame:
    """objID → split (``train``/``test``) and fold (0..k-1; −1 for test rows).

    The objIDs are sorted before shuffling, so the same catalogue and seed give
    the same splits whatever order the rows arrive in.
    """
    ids = np.unique(np.asarray(objids, dtype=np.int64))
    if len(ids) != len(objids):
        raise ValueError(f"{len(objids) - len(ids)} duplicate objIDs given to make_splits")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r} must lie strictly between 0 and 1")
    n_test = int(round(len(ids) * test_fraction))
    if len(ids) - n_test < folds:
        raise ValueError(f"{len(ids)} galaxies leave {len(ids) - n_test} for {folds} folds; need at least one per fold")
    order = np.random.default_rng(seed).permutation(len(ids))
    fold = np.empty(len(ids), dtype=np.int64)
    fold[order[:n_test]] = TEST_FOLD
    fold[order[n_test:]] = np.arange(len(ids) - n_test) % folds
    split = np.where(fold == TEST_FOLD, "test", "train")
    return pd.DataFrame({"objID": ids, "split": pd.array(split, dtype="string"), "fold": fold})

"""Enough galaxies to train and score every model, checked before any model trains.

Per target (after dropping galaxies whose value is missing, −9999) and per fold,
the training, validation and test galaxies are counted and compared with the
minimums below. Too few stops the run at once, with the counts and the config
keys that change them, instead of a training job that diverges on a handful of
images and fails later in the metrics.
"""

from __future__ import annotations

import pandas as pd

from galcnn.splits import SUBSETS, TEST_FOLD, labelled, subset_masks

#: Training galaxies of a model, at least. BatchNorm normalises each batch by its own
#: statistics, which grow unreliable below about 16 images (Wu & He 2018, "Group
#: Normalization", Fig. 1); fit() trains on batches of min(batch_size, n_train) images,
#: so fewer training galaxies than this means noise-dominated batch statistics.
MIN_TRAIN = 16
#: Validation galaxies of a fold, and test galaxies, at least. For n residuals of
#: similar size the RMSE has a relative standard error of about 1/sqrt(2n): 16 % at
#: n = 20 (22 % at 10, 10 % at 50), so a score still separates models whose RMSEs differ
#: by a third or more; with fewer galaxies it is mostly noise.
MIN_EVAL = 20


class InsufficientData(ValueError):
    """Too few galaxies for a target; the message gives the counts and what to change."""


def fold_counts(
    index: pd.DataFrame, splits: pd.DataFrame, catalog: pd.DataFrame, target: str
) -> pd.DataFrame:
    """Galaxies with an image and a measured ``target`` per fold: columns fold, train,
    validation, test (the test set is the same for every fold)."""
    table = labelled(index, splits, catalog, target)
    folds = sorted(int(f) for f in splits.loc[splits["fold"] != TEST_FOLD, "fold"].unique())
    rows = [
        {"fold": k} | {name: int(m.sum()) for name, m in subset_masks(table, k).items()}
        for k in folds
    ]
    return pd.DataFrame(rows, columns=["fold", *SUBSETS])


def minimums(batch_size: int) -> dict[str, int]:
    """The least number of galaxies per subset; a batch smaller than MIN_TRAIN needs only itself."""
    return {"train": min(MIN_TRAIN, int(batch_size)), "validation": MIN_EVAL, "test": MIN_EVAL}


def check_counts(counts: pd.DataFrame, target: str, batch_size: int, survey: str) -> None:
    """Raise :class:`InsufficientData` when a subset of a fold of ``counts`` is below
    :func:`minimums`, naming each shortfall and the keys that raise the counts."""
    least = minimums(batch_size)
    short = [
        f"fold {row.fold}: {name} {getattr(row, name)} < {least[name]}"
        for row in counts.itertuples()
        for name in ("train", "validation")
        if getattr(row, name) < least[name]
    ]
    n_test = int(counts["test"].iloc[0]) if len(counts) else 0  # one test set, shared by the folds
    if n_test < least["test"]:
        short.append(f"test {n_test} < {least['test']}")
    if not short:
        return
    more = {
        "mock": "mock.n_galaxies (galaxies drawn before the cuts)",
        "local": "a larger catalogue and more images (local.catalog, local.images; see images/excluded.parquet)",
    }.get(survey, "a larger catalogue (query.partitions cover the sky; fewer failed cutouts)")
    table = counts.to_string(index=False)
    raise InsufficientData(
        f"too few galaxies with a measured {target} to train and score its models: "
        f"{'; '.join(short)} (minimums per fold: train {least['train']}, "
        f"validation {least['validation']}, test {least['test']}).\n"
        f"Galaxies per fold after dropping those without an image or without {target} (-9999):\n{table}\n"
        f"To raise the counts change {more}, the cuts (query.cuts), folds (fewer folds: more validation "
        f"galaxies per fold; more folds: more training galaxies) or test_fraction (the share of the test set)."
    )

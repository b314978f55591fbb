"""The k-fold ensemble: the mean of the fold models' test predictions (docs/paper.md, "k-fold").

Every fold's model predicts the same test galaxies; the ensemble prediction is
the mean over folds (of the TTA predictions, and separately of the plain
ones). The validation predictions of the folds together cover every non-test
galaxy once: the out-of-fold predictions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from galcnn import storage

log = logging.getLogger(__name__)


def ensemble_folds(fold_predictions: dict[int, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(test ensemble, out-of-fold validation predictions) from each fold's predictions.

    Test frame: objID, true, pred_fold{k}, pred_fold{k}_notta for each fold k,
    pred and pred_notta (means over folds). Validation frame: objID, true,
    fold, pred, pred_notta. When the folds' files hold the spread over the TTA
    transforms (spread), it is kept: spread_fold{k} and the validation's
    spread (:mod:`galcnn.calibration` needs them). The folds must predict the same test galaxies with
    the same true values, and their validation galaxies must not overlap.
    """
    if not fold_predictions:
        raise ValueError("no fold predictions to ensemble")
    folds = sorted(fold_predictions)
    has_spread = all("spread" in f.columns for f in fold_predictions.values())
    cols = ["pred", "pred_notta"] + (["spread"] if has_spread else [])
    test = None
    val_parts = []
    for k in folds:
        frame = fold_predictions[k]
        missing = {"objID", "set", "true", "pred", "pred_notta"} - set(frame.columns)
        if missing:
            raise ValueError(f"fold {k} predictions lack columns {sorted(missing)}")
        t = frame.loc[frame["set"] == "test", ["objID", "true", *cols]].sort_values("objID")
        t = t.rename(
            columns={
                "pred": f"pred_fold{k}",
                "pred_notta": f"pred_fold{k}_notta",
                "spread": f"spread_fold{k}",
            }
        ).reset_index(drop=True)
        if test is None:
            test = t
        else:
            if not np.array_equal(test["objID"].to_numpy(), t["objID"].to_numpy()):
                raise ValueError(
                    f"fold {k} predicts a different test set ({len(t)} galaxies) "
                    f"than fold {folds[0]} ({len(test)}); rerun its predict_cnn job"
                )
            if not np.allclose(test["true"].to_numpy(), t["true"].to_numpy()):
                raise ValueError(
                    f"fold {k} has different true values for the test galaxies than fold {folds[0]}"
                )
            test = pd.concat([test, t.drop(columns=["objID", "true"])], axis=1)
        v = frame.loc[frame["set"] == "validation", ["objID", "true", *cols]].assign(fold=k)
        val_parts.append(v)
    test["pred"] = test[[f"pred_fold{k}" for k in folds]].mean(axis=1)
    test["pred_notta"] = test[[f"pred_fold{k}_notta" for k in folds]].mean(axis=1)
    val = pd.concat(val_parts, ignore_index=True)[["objID", "true", "fold", *cols]]
    dup = val["objID"].duplicated()
    if dup.any():
        raise ValueError(
            f"{int(dup.sum())} galaxies are in more than one validation "
            f"fold, e.g. objID {val.loc[dup, 'objID'].iloc[0]}"
        )
    return test, val.sort_values("objID").reset_index(drop=True)


HEADLINE_COLUMNS = ("objID", "true", "pred", "pred_notta")


def headline(test: pd.DataFrame, predictions: str, fold: int = 0) -> pd.DataFrame:
    """The test predictions the figures and the MMR show (columns :data:`HEADLINE_COLUMNS`).

    ``predictions="single"``: fold ``fold``'s model alone, as the paper's Figs 1, 2, 4,
    its MMR ratios and its published predictions; ``"ensemble"``: the fold mean.
    """
    if predictions == "ensemble":
        return test[list(HEADLINE_COLUMNS)].copy()
    if predictions != "single":
        raise ValueError(
            f"analysis.predictions is {predictions!r}; use 'single' (one fold's model) or 'ensemble'"
        )
    col = f"pred_fold{fold}"
    if col not in test.columns:
        have = sorted(
            int(c[9:])
            for c in test.columns
            if c.startswith("pred_fold") and not c.endswith("_notta")
        )
        raise ValueError(
            f"analysis.fold is {fold} but the predictions hold folds {have}; set analysis.fold to one of them"
        )
    return test[["objID", "true", col, f"{col}_notta"]].set_axis(list(HEADLINE_COLUMNS), axis=1)


def headline_file(
    test_path: str | Path, out_path: str | Path, predictions: str, fold: int = 0
) -> pd.DataFrame:
    """Read the fold-ensemble test file, write :func:`headline`'s frame."""
    frame = headline(pd.read_parquet(test_path), predictions, fold)
    storage.write_parquet(out_path, frame)
    log.info(
        "headline predictions: %s%s, %d test galaxies",
        predictions,
        f" (fold {fold})" if predictions == "single" else "",
        len(frame),
    )
    return frame


def ensemble_files(
    paths: dict[int, str | Path], test_out: str | Path, val_out: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read each fold's predictions.parquet, write the test ensemble and the out-of-fold file."""
    test, val = ensemble_folds({int(k): pd.read_parquet(p) for k, p in paths.items()})
    storage.write_parquet(test_out, test)
    storage.write_parquet(val_out, val)
    log.info(
        "ensembled %d folds: %d test galaxies, %d out-of-fold validation galaxies",
        len(paths),
        len(test),
        len(val),
    )
    return test, val

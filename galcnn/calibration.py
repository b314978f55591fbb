"""Calibrated uncertainties of the CNN predictions.

Each fold's model predicts a galaxy under every test-time-augmentation transform; the
spread of those predictions says how sure that model is. A galaxy's raw uncertainty is
that spread, as the root mean square over the fold models of each model's spread over
its transforms. It has no absolute scale, so one factor per configuration scales it,
fitted on the out-of-fold validation predictions (galaxies the predicting model never
trained on, none of them test galaxies) so that 68.27 % of them lie within 1σ of the
truth. The test set then measures how well that holds for the fold ensemble.

The disagreement between the fold models is left out of the raw uncertainty: a
validation galaxy has one out-of-fold model, so no spread over folds can be fitted on
it, and a factor fitted without it overstates the ensemble's uncertainty where it is
added (README, "Using the models on new galaxies").
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import norm

from galcnn import metrics

log = logging.getLogger(__name__)

#: Share of a Gaussian within 1σ: the coverage the factor is fitted for.
ONE_SIGMA = float(norm.cdf(1) - norm.cdf(-1))
#: Expected coverages the calibration curve is drawn at (share of a Gaussian within kσ).
CURVE_LEVELS = np.linspace(0.05, 0.95, 19)


def model_spread(stds) -> np.ndarray:
    """Raw uncertainty per galaxy from each fold model's spread over its transforms
    (K × N, folds × galaxies): their root mean square over the folds."""
    s = np.asarray(stds, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"fold spreads of shape {s.shape} must be folds × galaxies")
    return np.sqrt((s**2).mean(axis=0))


def fit_factor(residual, sigma, target: float = ONE_SIGMA) -> float:
    """The factor f for which a share ``target`` of |residual| ≤ f σ.

    Galaxies with σ = 0 (no spread) cannot be scaled and are left out; without
    any galaxy of positive σ there is no factor.
    """
    r = np.abs(metrics.as_values(residual, "residuals"))
    s = metrics.as_values(sigma, "uncertainties")
    if r.shape != s.shape:
        raise ValueError(f"{len(r)} residuals but {len(s)} uncertainties")
    ok = s > 0
    if not ok.any():
        raise ValueError(
            f"none of the {len(s)} galaxies has a positive prediction spread, so no uncertainty scale can be fitted "
            "(1 px images and predict.tta: false give one prediction per model)"
        )
    return float(np.quantile(r[ok] / s[ok], target))


def coverage(residual, sigma, k: float = 1.0) -> float:
    """Share of galaxies with |residual| ≤ k σ."""
    r = np.abs(np.asarray(residual, dtype=float))
    return float(np.mean(r <= k * np.asarray(sigma, dtype=float)))


def fold_columns(test: pd.DataFrame) -> list[int]:
    """The folds of a test-ensemble table (columns pred_fold{k})."""
    folds = sorted(
        int(c[len("pred_fold") :])
        for c in test.columns
        if c.startswith("pred_fold") and c[len("pred_fold") :].isdigit()
    )
    if not folds:
        raise ValueError(
            f"the test predictions have no per-fold columns pred_fold<k> (columns: {list(test.columns)})"
        )
    return folds


def test_spread(test: pd.DataFrame, source: str = "test predictions") -> np.ndarray:
    """Raw uncertainty of each test galaxy: :func:`model_spread` of the folds' columns."""
    folds = fold_columns(test)
    missing = [f"spread_fold{k}" for k in folds if f"spread_fold{k}" not in test.columns]
    if missing:
        raise ValueError(
            f"{source} lack the TTA spread columns {missing}: they were made "
            "before predictions kept it; rerun with --forcerun predict_cnn"
        )
    return model_spread(test[[f"spread_fold{k}" for k in folds]].to_numpy().T)


def calibrate(
    test: pd.DataFrame,
    validation: pd.DataFrame,
    names: tuple[str, str] = ("test predictions", "validation predictions"),
) -> dict:
    """Fit the factor on the validation predictions; coverages before and after scaling.

    Returns factor, n_validation, n_test, validation coverage at 1σ after scaling, test
    coverage at 1σ and 2σ before (raw spread) and after scaling, and the test set's
    median calibrated σ. Without any validation spread (1 px images, where the
    transforms are one, or no TTA) the factor is None and what depends on it None.
    """
    if "spread" not in validation.columns:
        raise ValueError(
            f"{names[1]} lack the TTA spread column spread: they were made "
            "before predictions kept it; rerun with --forcerun predict_cnn"
        )
    raw = test_spread(test, names[0])
    val_res = metrics.residuals(validation["pred"], validation["true"])
    res = metrics.residuals(test["pred"], test["true"])
    out = {"factor": None, "n_validation": len(validation), "n_test": len(test)}
    if (validation["spread"] > 0).any():
        out["factor"] = fit_factor(val_res, validation["spread"])
    else:
        log.warning(
            "no validation galaxy has a positive prediction spread (1 px images or no TTA): no uncertainty scale"
        )
    factor = out["factor"]
    out["validation_coverage_1sigma"] = (
        None if factor is None else coverage(val_res, factor * validation["spread"].to_numpy())
    )
    for k in (1, 2):
        out[f"test_coverage_{k}sigma_raw"] = coverage(res, raw, k)
        out[f"test_coverage_{k}sigma"] = None if factor is None else coverage(res, factor * raw, k)
    out["test_median_sigma"] = None if factor is None else float(np.median(factor * raw))
    return out


def coverage_curve(residual, sigma, levels=CURVE_LEVELS) -> pd.DataFrame:
    """Observed against expected coverage: for each Gaussian level p, the share within
    the interval of ±kσ that holds p of a Gaussian (a calibrated σ gives the diagonal)."""
    levels = np.asarray(levels, dtype=float)
    k = norm.ppf(0.5 + levels / 2)
    return pd.DataFrame(
        {"expected": levels, "observed": [coverage(residual, sigma, kk) for kk in k]}
    )

"""Calibrated uncertainties: the models' spread, the fitted factor, the coverages, and the
TTA spread that the predictions keep for them."""

import numpy as np
import pandas as pd
import pytest
import torch
from test_predict import CPU, Recorder, random_images

from galcnn import calibration
from galcnn.cnn.predict import predict_transforms
from galcnn.ensemble import ensemble_folds


def test_the_raw_uncertainty_is_the_models_spread_over_transforms_not_their_disagreement():
    rng = np.random.default_rng(1)
    preds = rng.normal(9.0, 0.2, (3, 8, 50))  # folds x transforms x galaxies
    raw = calibration.model_spread(preds.std(axis=1))
    # Offsetting a whole fold (models that disagree) leaves it as it is.
    preds[1] += 0.5
    np.testing.assert_allclose(calibration.model_spread(preds.std(axis=1)), raw)
    np.testing.assert_allclose(
        raw**2, ((preds - preds.mean(axis=1, keepdims=True)) ** 2).mean(axis=(0, 1))
    )
    with pytest.raises(ValueError, match="folds × galaxies"):
        calibration.model_spread(preds.std(axis=1)[0])


def synthetic(n, factor, seed):
    """Galaxies whose errors are Gaussian with σ_i = factor × raw spread_i."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.01, 0.1, n)
    return raw, rng.normal(0.0, factor * raw)


@pytest.mark.parametrize("factor", [0.5, 3.0, 12.0])
def test_the_fitted_factor_recovers_the_known_noise_scale(factor):
    raw, residual = synthetic(20000, factor, seed=int(factor * 10))
    fitted = calibration.fit_factor(residual, raw)
    assert fitted == pytest.approx(factor, rel=0.03)
    assert calibration.coverage(residual, fitted * raw) == pytest.approx(
        calibration.ONE_SIGMA, abs=0.005
    )
    assert calibration.coverage(residual, fitted * raw, 2) == pytest.approx(0.9545, abs=0.01)


def test_galaxies_without_spread_are_left_out_of_the_fit_and_none_means_no_factor():
    raw, residual = synthetic(5000, 2.0, seed=3)
    raw[:1000] = 0.0
    assert calibration.fit_factor(residual, raw) == pytest.approx(2.0, rel=0.05)
    with pytest.raises(ValueError, match="none of the 3 galaxies has a positive prediction spread"):
        calibration.fit_factor([0.1, 0.2, 0.3], [0.0, 0.0, 0.0])


def frames(n_test, n_val, factor, seed, folds=2):
    """Test ensemble and out-of-fold validation tables whose errors follow factor × spread."""
    rng = np.random.default_rng(seed)
    test = pd.DataFrame({"objID": np.arange(n_test), "true": 9.0})
    spread = rng.uniform(0.02, 0.08, n_test)
    centre = 9.0 + rng.normal(0, factor * spread)
    for k in range(folds):
        test[f"pred_fold{k}"] = centre  # folds agree: the spread is the transforms' alone
        test[f"spread_fold{k}"] = spread
    test["pred"] = centre
    val_spread = rng.uniform(0.02, 0.08, n_val)
    val = pd.DataFrame(
        {"objID": np.arange(n_val) + n_test, "true": 8.8, "fold": 0, "spread": val_spread}
    )
    val["pred"] = 8.8 + rng.normal(0, factor * val_spread)
    return test, val


def test_calibrate_fits_on_validation_and_scores_the_test_set():
    test, val = frames(4000, 4000, 4.0, seed=5)
    out = calibration.calibrate(test, val)
    assert out["factor"] == pytest.approx(4.0, rel=0.05)
    assert out["test_coverage_1sigma"] == pytest.approx(0.683, abs=0.03)
    assert out["test_coverage_2sigma"] == pytest.approx(0.954, abs=0.02)
    # The raw spread is 4 times too small: within it lie only ~20 % of the galaxies.
    assert out["test_coverage_1sigma_raw"] == pytest.approx(0.197, abs=0.03)
    assert out["validation_coverage_1sigma"] == pytest.approx(calibration.ONE_SIGMA, abs=0.002)
    assert (out["n_test"], out["n_validation"]) == (4000, 4000)


def test_without_validation_spread_there_is_no_factor():
    test, val = frames(100, 100, 2.0, seed=6)
    val["spread"] = 0.0
    out = calibration.calibrate(test, val)
    assert out["factor"] is None and out["test_coverage_1sigma"] is None
    assert out["test_coverage_1sigma_raw"] is not None


def test_predictions_made_before_the_spread_was_kept_ask_for_a_rerun():
    test, val = frames(10, 10, 2.0, seed=7)
    with pytest.raises(
        ValueError, match=r"lack the TTA spread column spread.*--forcerun predict_cnn"
    ):
        calibration.calibrate(test, val.drop(columns="spread"), names=("t.parquet", "v.parquet"))
    with pytest.raises(
        ValueError,
        match=r"t.parquet lack the TTA spread columns \['spread_fold0', 'spread_fold1'\]",
    ):
        calibration.calibrate(
            test.drop(columns=["spread_fold0", "spread_fold1"]),
            val,
            names=("t.parquet", "v.parquet"),
        )


def test_coverage_curve_of_calibrated_gaussian_errors_is_the_diagonal():
    raw, residual = synthetic(20000, 1.0, seed=8)
    curve = calibration.coverage_curve(residual, raw)
    np.testing.assert_allclose(curve["observed"], curve["expected"], atol=0.015)


def test_the_transforms_spread_is_kept_per_galaxy_and_through_the_ensemble():
    torch.manual_seed(0)
    images = random_images(n=4)
    outs = predict_transforms(Recorder((1, 3, 5, 5)), images, np.arange(4), "gri", 2, CPU, tta=True)
    assert outs.shape == (8, 4) and (outs.std(axis=0) > 0).all()
    assert predict_transforms(
        Recorder((1, 3, 1, 1)), random_images(n=4, res=1), np.arange(4), "gri", 2, CPU, tta=True
    ).shape == (1, 4)

    def fold(k):
        test = pd.DataFrame(
            {
                "objID": [1, 2],
                "set": "test",
                "true": 9.0,
                "pred": 9.0 + k,
                "pred_notta": 9.0,
                "spread": [0.1 * (k + 1), 0.2],
            }
        )
        val = pd.DataFrame(
            {
                "objID": [10 + k],
                "set": "validation",
                "true": 8.5,
                "pred": 8.6,
                "pred_notta": 8.7,
                "spread": 0.05,
            }
        )
        return pd.concat([test, val], ignore_index=True)

    test, val = ensemble_folds({0: fold(0), 1: fold(1)})
    assert list(test["spread_fold1"]) == [0.2, 0.2] and list(val["spread"]) == [0.05, 0.05]
    # Spreads 0.1 and 0.2 of folds that predict 9 and 10: their root mean square, the disagreement left out.
    assert calibration.test_spread(test)[0] == pytest.approx(np.sqrt(0.025))

"""RMSE, NMAD and binned statistics against values worked out by hand."""

import numpy as np
import pytest

from galcnn.metrics import NMAD_SCALE, bin_edges, binned_stats, nmad, residuals, rmse, scatter_nmad


def test_outlier_moves_rmse_but_not_nmad():
    true = np.zeros(5)
    pred = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    # d = 1, 2, 3, 4, 100: median 3, |d - 3| = 2, 1, 0, 1, 97 -> median 1
    assert nmad(pred, true) == pytest.approx(1.4826)
    assert rmse(pred, true) == pytest.approx(np.sqrt((1 + 4 + 9 + 16 + 100**2) / 5))
    tame = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert nmad(tame, true) == nmad(pred, true)  # the outlier does not move NMAD ...
    assert rmse(pred, true) > 10 * rmse(tame, true)  # ... but dominates RMSE


def test_nmad_of_gaussian_is_sigma():
    d = np.random.default_rng(0).normal(0.3, 0.07, 200_000)
    assert scatter_nmad(d) == pytest.approx(0.07, rel=0.01)
    assert NMAD_SCALE == 1.4826


def test_residual_sign_is_pred_minus_true():
    assert residuals([9.0], [8.5]).tolist() == [0.5]


@pytest.mark.parametrize(
    ("pred", "true", "message"),
    [
        ([1.0, np.nan], [1.0, 2.0], "non-finite"),
        ([1.0, 2.0], [1.0], "paired"),
        ([], [], "empty"),
        ([[1.0]], [[1.0]], "one-dimensional"),
    ],
)
def test_bad_input_is_refused(pred, true, message):
    with pytest.raises(ValueError, match=message):
        rmse(pred, true)


def test_binned_stats_by_hand():
    true = np.array([0.1, 0.2, 0.6, 0.7, 1.0])
    pred = true + np.array([0.1, -0.1, 0.2, 0.2, 0.0])
    stats = binned_stats(true, pred, [0.0, 0.5, 1.0])
    assert stats["count"].tolist() == [2, 3]  # the top edge belongs to the last bin
    assert stats["median"].tolist() == pytest.approx([0.15, 0.9])  # pred 0.2, 0.1 | 0.8, 0.9, 1.0
    assert stats["rmse"].tolist() == pytest.approx([0.1, np.sqrt(0.08 / 3)])
    assert stats["nmad"].tolist() == pytest.approx([1.4826 * 0.1, 0.0])
    assert stats["center"].tolist() == pytest.approx([0.25, 0.75])


def test_binned_stats_keeps_empty_bins_and_ignores_outside_values():
    stats = binned_stats([0.5, 5.0], [0.5, 5.0], [0.0, 1.0, 2.0])
    assert stats["count"].tolist() == [1, 0]
    assert np.isnan(stats.loc[1, "rmse"])


def test_bin_edges_land_on_the_end():
    edges = bin_edges(8.5, 11.5, 0.2)
    assert len(edges) == 16 and edges[0] == 8.5 and edges[-1] == 11.5
    with pytest.raises(ValueError, match="whole bins"):
        bin_edges(8.5, 11.5, 0.7)

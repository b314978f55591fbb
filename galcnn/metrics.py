"""Scatter statistics of predictions: RMSE, NMAD and their values in bins.

Definitions follow the paper (docs/paper.md, "Formulae"): with ΔZ = Z_pred − Z_true,
RMSE = sqrt(mean(ΔZ²)) and NMAD = 1.4826 × median(|ΔZ − median(ΔZ)|). NMAD is
kept alongside RMSE because it ignores the outliers that dominate RMSE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Scales the median absolute deviation to σ for a Gaussian (1 / Φ⁻¹(3/4)).
NMAD_SCALE = 1.4826


def as_values(values, name: str = "values") -> np.ndarray:
    """A finite, non-empty 1-D float array, or a ``ValueError`` naming ``name``."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; there is nothing to measure")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite values (NaN/inf) of {arr.size}; drop those rows first"
        )
    return arr


def residuals(pred, true) -> np.ndarray:
    """ΔZ = pred − true, after checking both are finite and of equal length."""
    pred = as_values(pred, "pred")
    true = as_values(true, "true")
    if pred.shape != true.shape:
        raise ValueError(
            f"pred has {pred.size} values but true has {true.size}; they must be paired row by row"
        )
    return pred - true


def scatter_nmad(values) -> float:
    """NMAD of a sample about its own median (the scatter of Z at fixed mass, or of ΔZ)."""
    values = as_values(values)
    return float(NMAD_SCALE * np.median(np.abs(values - np.median(values))))


def rmse(pred, true) -> float:
    d = residuals(pred, true)
    return float(np.sqrt(np.mean(d**2)))


def nmad(pred, true) -> float:
    return scatter_nmad(residuals(pred, true))


def bin_edges(lo: float, hi: float, step: float) -> np.ndarray:
    """Edges lo, lo+step, …, hi; rounded so that float steps (0.2) land exactly on hi."""
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"bin range [{lo}, {hi}] is empty; need finite lo < hi")
    if not step > 0:
        raise ValueError(f"bin step {step} must be positive")
    n = int(round((hi - lo) / step))
    if n < 1 or not np.isclose(lo + n * step, hi):
        raise ValueError(f"bin step {step} does not divide [{lo}, {hi}] into whole bins")
    return np.round(lo + step * np.arange(n + 1), 10)


def binned_stats(true, pred, edges) -> pd.DataFrame:
    """Per bin of ``true`` (half-open [lo, hi), the last bin closed): count,
    median of ``pred`` (the running median), RMSE and NMAD of the residuals.

    Empty bins keep their row with count 0 and NaN statistics, so every bin of a
    figure or table is accounted for.
    """
    d = residuals(pred, true)
    true = np.asarray(true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(
            f"bin edges must be increasing with at least two values, got {edges.tolist()}"
        )
    idx = bin_index(true, edges)
    rows = []
    for b in range(edges.size - 1):
        sel = idx == b
        n = int(sel.sum())
        rows.append(
            {
                "lo": edges[b],
                "hi": edges[b + 1],
                "center": 0.5 * (edges[b] + edges[b + 1]),
                "count": n,
                "median": float(np.median(pred[sel])) if n else np.nan,
                "rmse": float(np.sqrt(np.mean(d[sel] ** 2))) if n else np.nan,
                "nmad": scatter_nmad(d[sel]) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin number of each value, −1 outside [edges[0], edges[-1]]."""
    idx = np.searchsorted(edges, x, side="right") - 1
    idx[x == edges[-1]] = edges.size - 2
    idx[(x < edges[0]) | (x > edges[-1])] = -1
    return idx

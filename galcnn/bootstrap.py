"""Paired bootstrap of the difference between two predictors' scatter on the same galaxies.

A difference of RMSE between the CNN and a baseline on a few hundred test galaxies is itself
noisy; resampling the galaxies (with replacement, both predictors' residuals together, so the
galaxies' shared difficulty cancels) gives its distribution. The interval is the percentile
interval of the resampled differences; a difference is *resolved* when the interval excludes 0.
Seeded, so the same predictions give the same interval.
"""

from __future__ import annotations

import numpy as np

from galcnn.metrics import NMAD_SCALE, as_values

#: Resamples per comparison: the 2.5 and 97.5 percentiles of 2,000 move by ~0.1 of the interval's width.
RESAMPLES = 2000
LEVEL = 0.95
#: Resamples drawn at once: bounds the memory of the medians at a large test set.
CHUNK = 250


def _rmse(d: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(d**2, axis=-1))


def _nmad(d: np.ndarray) -> np.ndarray:
    med = np.median(d, axis=-1, keepdims=True)
    return NMAD_SCALE * np.median(np.abs(d - med), axis=-1)


STATISTICS = {"rmse": _rmse, "nmad": _nmad}


def paired_difference(
    a, b, *, seed: int, resamples: int = RESAMPLES, level: float = LEVEL
) -> dict[str, tuple[float, float, float]]:
    """For RMSE and NMAD: (statistic of residuals ``a`` − statistic of residuals ``b``, interval
    low, high), ``a[i]`` and ``b[i]`` being two predictors' ΔZ of galaxy i; the interval at
    ``level`` from ``resamples`` paired resamples of the galaxies."""
    a = as_values(a, "residuals a")
    b = as_values(b, "residuals b")
    if a.shape != b.shape:
        raise ValueError(
            f"{a.size} and {b.size} residuals: a paired comparison needs the same galaxies"
        )
    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"resamples must be >= 1 and level in (0, 1), got {resamples} and {level}")
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in STATISTICS}
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, a.size, (min(CHUNK, resamples - start), a.size))
        for name, stat in STATISTICS.items():
            draws[name].append(stat(a[idx]) - stat(b[idx]))
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    out = {}
    for name, stat in STATISTICS.items():
        lo, hi = np.percentile(np.concatenate(draws[name]), tails)
        out[name] = (float(stat(a) - stat(b)), float(lo), float(hi))
    return out


def resolved(lo: float, hi: float) -> bool:
    """Whether an interval excludes zero (a difference told apart from the noise)."""
    return bool(lo > 0 or hi < 0)

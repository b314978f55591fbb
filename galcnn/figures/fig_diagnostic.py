"""Diagnostic figure: what the gri CNN gains over morphology alone (r-band CNN)
and over colours alone (random forest on g, r, i magnitudes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..metrics import nmad, residuals, rmse
from .style import COLORS, DZ, new_figure, save_figure

log = logging.getLogger(__name__)

MODEL_LABELS = {"cnn_gri": "CNN, gri image", "cnn_r": "CNN, r band only", "rf": "random forest, g r i mags"}
MODEL_COLORS = {"cnn_gri": COLORS["cnn"], "cnn_r": COLORS["cnn_r"], "rf": COLORS["rf"]}


def plot_diagnostic(models: Mapping[str, pd.DataFrame]) -> Figure:
    """Left: distributions of ΔZ for each model (``{key: frame with true, pred}``,
    keys of :data:`MODEL_LABELS`). Right: their RMSE and NMAD as bars."""
    fig = new_figure(8.0, 3.5)
    ax_hist, ax_bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1], "wspace": 0.3})
    dz = {key: residuals(f["pred"], f["true"]) for key, f in models.items()}
    limit = float(np.quantile(np.abs(np.concatenate(list(dz.values()))), 0.995)) or 1.0
    n_min = min(d.size for d in dz.values())
    edges = np.linspace(-limit, limit, int(np.clip(2 * np.sqrt(n_min), 10, 60)) + 1)
    for key, d in dz.items():
        ax_hist.hist(d, bins=edges, histtype="step", density=True, lw=1.6, color=MODEL_COLORS.get(key),
                     label=MODEL_LABELS.get(key, key))
    ax_hist.axvline(0, color="k", lw=0.8)
    ax_hist.set_xlabel(DZ)
    ax_hist.set_ylabel("probability density [dex$^{-1}$]")
    ax_hist.legend(loc="upper left", frameon=False)

    x = np.arange(len(models))
    width = 0.38
    for offset, metric in ((-width / 2, "rmse"), (width / 2, "nmad")):
        values = [rmse(f["pred"], f["true"]) if metric == "rmse" else nmad(f["pred"], f["true"]) for f in models.values()]
        ax_bar.bar(x + offset, values, width, color=COLORS[metric], label=metric.upper())
    ax_bar.set_xticks(x, [MODEL_LABELS.get(k, k).replace(", ", "\n") for k in models], fontsize=7)
    ax_bar.set_ylabel(r"scatter of $\Delta Z$ [dex]")
    ax_bar.legend(loc="upper left", frameon=False)
    return fig


def make_diagnostic(paths: Mapping[str, str], pdf_path: str, png_path: str) -> Figure:
    """``paths``: ``{"cnn_gri": ..., "cnn_r": ... (optional), "rf": ...}`` stored test predictions."""
    models = {key: pd.read_parquet(path, columns=["objID", "true", "pred"]) for key, path in paths.items()}
    common = set.intersection(*(set(f["objID"]) for f in models.values()))
    for key, f in models.items():
        if len(f) != len(common):
            log.info("%s: %d of %d test galaxies are not predicted by every model and are left out", key, len(f) - len(common), len(f))
    models = {key: f[f["objID"].isin(common)] for key, f in models.items()}
    fig = plot_diagnostic(models)
    save_figure(fig, pdf_path, png_path)
    return fig

"""Diagnostic figure: what the gri CNN gains over morphology alone (r-band CNN)
and over colours alone (random forest on g, r, i magnitudes), each in the style of Fig. 2."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.fig2_predicted_vs_true import draw_predicted_vs_true
from galcnn.figures.style import new_figure, padded_range, save_figure

log = logging.getLogger(__name__)

MODEL_LABELS = {
    "cnn_r": "CNN, r band only",
    "rf": "random forest, g r i mags",
    "cnn_gri": "CNN, gri image",
}


def plot_diagnostic(models: Mapping[str, pd.DataFrame]) -> Figure:
    """One Fig. 2 panel per model (``{key: frame with true, pred}``, keys of
    :data:`MODEL_LABELS`), in that order (r-band CNN, random forest, gri CNN),
    on the same axes so that the spreads compare at a glance."""
    keys = [k for k in MODEL_LABELS if k in models] + [k for k in models if k not in MODEL_LABELS]
    fig = new_figure(4.3 * len(keys), 5.6)
    cells = fig.add_gridspec(1, len(keys), wspace=0.35)
    limits = padded_range(
        np.concatenate([models[k]["true"] for k in keys]),
        np.concatenate([models[k]["pred"] for k in keys]),
        step=0.1,
    )
    for i, key in enumerate(keys):
        frame = models[key]
        draw_predicted_vs_true(
            fig,
            cells[i],
            frame["true"].to_numpy(),
            frame["pred"].to_numpy(),
            limits=limits,
            title=MODEL_LABELS.get(key, key),
            colorbar=i == len(keys) - 1,
        )
    return fig


def make_diagnostic(paths: Mapping[str, str], pdf_path: str, png_path: str) -> Figure:
    """``paths``: ``{"cnn_gri": ..., "cnn_r": ... (optional), "rf": ...}`` stored test predictions."""
    models = {
        key: pd.read_parquet(path, columns=["objID", "true", "pred"]) for key, path in paths.items()
    }
    common = set.intersection(*(set(f["objID"]) for f in models.values()))
    for key, f in models.items():
        if len(f) != len(common):
            log.info(
                "%s: %d of %d test galaxies are not predicted by every model and are left out",
                key,
                len(f) - len(common),
                len(f),
            )
    models = {key: f[f["objID"].isin(common)] for key, f in models.items()}
    fig = plot_diagnostic(models)
    save_figure(fig, pdf_path, png_path)
    return fig

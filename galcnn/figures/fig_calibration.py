"""Calibration of the uncertainties: observed against expected coverage, and |Δ| against σ."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from galcnn import calibration, metrics
from galcnn.figures.style import COLORS, new_figure, save_figure

#: Axis names of the targets the paper predicts; others are shown by their column name.
TARGET_LABELS = {"oh_p50": "12 + log(O/H)", "lgm_tot_p50": r"log $M_\star$"}


def plot_calibration(entries: list[dict]) -> Figure:
    """One row per configuration: ``entries`` of target, bands, res, test (ensemble
    predictions), validation (out-of-fold) and factor (None when none was fitted)."""
    fig = new_figure(9.0, 3.8 * len(entries))
    axes = fig.subplots(len(entries), 2, squeeze=False)
    for (ax_cov, ax_sig), e in zip(axes, entries):
        test, val, factor = e["test"], e["validation"], e["factor"]
        res = metrics.residuals(test["pred"], test["true"])
        raw = calibration.test_spread(test)
        name = f"{TARGET_LABELS.get(e['target'], e['target'])} ({e['bands']}, {e['res']} px)"
        curves = [("test, raw spread", res, raw, COLORS["mean"], "--")]
        if factor is not None:
            val_res = metrics.residuals(val["pred"], val["true"])
            curves += [
                (
                    "validation, calibrated",
                    val_res,
                    factor * val["spread"].to_numpy(),
                    COLORS["rf"],
                    ":",
                ),
                ("test, calibrated", res, factor * raw, COLORS["cnn"], "-"),
            ]
        for label, r, s, colour, ls in curves:
            curve = calibration.coverage_curve(r, s)
            ax_cov.plot(
                curve["expected"], curve["observed"], color=colour, ls=ls, lw=2, label=label
            )
        ax_cov.plot([0, 1], [0, 1], color="black", lw=1, label="calibrated")
        ax_cov.set_xlim(0, 1)
        ax_cov.set_ylim(0, 1)
        ax_cov.set_xlabel("expected coverage (Gaussian)")
        ax_cov.set_ylabel("observed coverage")
        ax_cov.set_title(name, fontsize="medium")
        ax_cov.legend(loc="lower right", frameon=False, fontsize="small")

        sigma = raw if factor is None else factor * raw
        ax_sig.scatter(
            sigma, np.abs(res), s=6, color=COLORS["sdss"], alpha=0.4, lw=0, label="test galaxies"
        )
        hi = float(np.quantile(np.concatenate([sigma, np.abs(res)]), 0.995)) * 1.05 or 1.0
        edges = np.quantile(sigma, np.linspace(0, 1, 9))
        binned = pd.DataFrame({"sigma": sigma, "res": res}).groupby(
            np.clip(np.searchsorted(edges, sigma, side="right") - 1, 0, 7)
        )
        ax_sig.plot(
            binned["sigma"].median(),
            binned["res"].apply(lambda r: np.sqrt(np.mean(r**2))),
            "o-",
            color=COLORS["rmse"],
            label="RMS |Δ| in bins of σ",
        )
        ax_sig.plot([0, hi], [0, hi], color="black", lw=1, label="|Δ| = σ")
        ax_sig.set_xlim(0, hi)
        ax_sig.set_ylim(0, hi)
        ax_sig.set_xlabel(
            "σ, calibrated [dex]" if factor is not None else "σ, raw spread (no factor) [dex]"
        )
        ax_sig.set_ylabel("|Δ| = |pred − true| [dex]")
        ax_sig.legend(loc="upper left", frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def make_calibration_figure(entries: list[dict], pdf_path: str, png_path: str) -> None:
    save_figure(plot_calibration(entries), pdf_path, png_path)

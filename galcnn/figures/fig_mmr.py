"""The MMR figure: metallicity against stellar mass for SDSS and for the CNN, and the
scatter of metallicity at fixed mass."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.style import COLORS, M_TRUE, density, new_figure, padded_range, save_figure
from galcnn.mmr import CATALOG_COLUMNS, TREMONTI_RANGE, mmr_sample, tremonti_metallicity

log = logging.getLogger(__name__)


def plot_mmr(sample: pd.DataFrame, bins: pd.DataFrame, ratio: float, spread: float) -> Figure:
    """Top: Z_true and Z_pred against true stellar mass, with the binned median and
    ±NMAD and the Tremonti et al. (2004) fit. Bottom: NMAD of Z in each mass bin for
    both, annotated with the count-weighted mean ratio NMAD(CNN)/NMAD(SDSS) ± spread.
    ``bins`` is the per-bin part of :func:`galcnn.mmr.mmr_table` for one comparison."""
    fig = new_figure(8.0, 6.4)
    grid = fig.add_gridspec(2, 2, height_ratios=[2.2, 1], hspace=0.3, wspace=0.15)
    ax_sdss = fig.add_subplot(grid[0, 0])
    ax_cnn = fig.add_subplot(grid[0, 1], sharex=ax_sdss, sharey=ax_sdss)
    ax_nmad = fig.add_subplot(grid[1, :])
    m_lo, m_hi = padded_range(sample["mass_true"], step=0.5)
    z_lo, z_hi = padded_range(sample["z_true"], sample["z_pred"], step=0.1)
    x_fit = np.linspace(
        max(m_lo, TREMONTI_RANGE[0]) + 1e-6, min(m_hi, TREMONTI_RANGE[1]) - 1e-6, 100
    )
    filled = bins[bins["n_sdss"] > 0]
    for ax, column, name, title in (
        (ax_sdss, "z_true", "sdss", "SDSS"),
        (ax_cnn, "z_pred", "cnn", "CNN"),
    ):
        density(ax, sample["mass_true"], sample[column], m_lo, m_hi, bins=60, y_range=(z_lo, z_hi))
        med, spread_ = filled[f"median_{name}"], filled[f"nmad_{name}"]
        ax.plot(filled["center"], med, color=COLORS["median"], lw=2, label="median")
        ax.plot(
            filled["center"], med + spread_, color=COLORS["nmad"], ls="--", lw=1.5, label="± NMAD"
        )
        ax.plot(filled["center"], med - spread_, color=COLORS["nmad"], ls="--", lw=1.5)
        if x_fit.size and x_fit[0] < x_fit[-1]:
            ax.plot(x_fit, tremonti_metallicity(x_fit), color="k", lw=1.2, label="Tremonti+04")
        ax.set_title(f"{title} metallicity")
        ax.set_xlabel(M_TRUE)
        ax.set_xlim(m_lo, m_hi)
        ax.set_ylim(z_lo, z_hi)
        ax.legend(loc="lower right", frameon=False)
    ax_sdss.set_ylabel("12 + log(O/H) [dex]")
    ax_cnn.tick_params(labelleft=False)

    used = bins[bins["used"]]
    for name, label in (("sdss", "SDSS"), ("cnn", "CNN")):
        ax_nmad.plot(filled["center"], filled[f"nmad_{name}"], "-", color=COLORS[name], label=label)
        # filled markers: bins entering the ratio; open: too few galaxies
        ax_nmad.scatter(used["center"], used[f"nmad_{name}"], color=COLORS[name], zorder=3)
        ax_nmad.scatter(
            filled["center"],
            filled[f"nmad_{name}"],
            facecolors="none",
            edgecolors=COLORS[name],
            zorder=2,
        )
    ax_nmad.set_xlabel(M_TRUE)
    ax_nmad.set_ylabel("NMAD of Z at fixed mass [dex]")
    ax_nmad.set_ylim(0, None)
    # Ratio and legend above the panel: inside it they covered bins' markers.
    ax_nmad.set_title(
        f"NMAD(CNN) / NMAD(SDSS) = {ratio:.3f} ± {spread:.3f}  ({len(used)} bins)",
        loc="left",
        fontsize=9,
    )
    ax_nmad.legend(
        loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False, borderaxespad=0.2
    )
    return fig


def make_mmr(
    z_predictions_path: str, catalog_path: str, mmr_table_path: str, pdf_path: str, png_path: str
) -> Figure:
    """The figure from the stored predictions and the scatter-ratio table (so its
    numbers are the table's)."""
    sample = mmr_sample(
        pd.read_parquet(z_predictions_path),
        pd.read_parquet(catalog_path, columns=list(CATALOG_COLUMNS)),
    )
    table = pd.read_csv(mmr_table_path)
    table = table[table["comparison"] == "cnn_metallicity"]
    bins = table[table["kind"] == "bin"]
    summary = table[table["kind"] == "weighted"].iloc[0]
    log.info(
        "MMR figure: %d test galaxies; scatter ratio %.3f ± %.3f",
        len(sample),
        summary["ratio"],
        summary["ratio_spread"],
    )
    fig = plot_mmr(sample, bins, float(summary["ratio"]), float(summary["ratio_spread"]))
    save_figure(fig, pdf_path, png_path)
    return fig

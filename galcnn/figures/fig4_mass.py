"""Figure 4: the CNN's stellar masses, and metallicity inferred from them through the MMR."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.fig2_predicted_vs_true import draw_predicted_vs_true
from galcnn.figures.style import (
    M_PRED,
    M_TRUE,
    Z_TRUE,
    density,
    new_figure,
    one_to_one,
    padded_range,
    save_figure,
)
from galcnn.metrics import nmad, rmse
from galcnn.mmr import in_tremonti_range, tremonti_metallicity

log = logging.getLogger(__name__)


def plot_mass(mass_true, mass_pred, z_true, z_from_mass) -> Figure:
    """Left: CNN-predicted against true stellar mass in the style of Fig. 2. Right: metallicity
    from the CNN mass through Tremonti et al. (2004) eq. 3 against true metallicity."""
    fig = new_figure(9.0, 5.6)
    cells = fig.add_gridspec(1, 2, wspace=0.5)
    draw_predicted_vs_true(
        fig, cells[0], mass_true, mass_pred, step=0.2, xlabel=M_TRUE, ylabel=M_PRED
    )
    ax = fig.add_subplot(cells[1].subgridspec(2, 1, height_ratios=[1, 3.2])[1, 0])
    lo, hi = padded_range(z_true, z_from_mass, step=0.1)
    density(ax, z_true, z_from_mass, lo, hi)
    one_to_one(ax, lo, hi)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(Z_TRUE)
    ax.set_ylabel(r"$Z$ from CNN mass (Tremonti+04 eq. 3) [dex]")
    ax.text(
        0.04,
        0.96,
        f"RMSE = {rmse(z_from_mass, z_true):.3f} dex\nNMAD = {nmad(z_from_mass, z_true):.3f} dex\nN = {len(z_true)}",
        transform=ax.transAxes,
        ha="left",
        va="top",
    )
    ax.legend(loc="lower right", frameon=False)
    return fig


def make_mass(
    mass_predictions_path: str, z_predictions_path: str, pdf_path: str, png_path: str
) -> Figure:
    mass = pd.read_parquet(mass_predictions_path, columns=["objID", "true", "pred"])
    z = pd.read_parquet(z_predictions_path, columns=["objID", "true"]).rename(
        columns={"true": "z_true"}
    )
    both = mass.merge(z, on="objID", how="inner")
    valid = in_tremonti_range(both["pred"])
    log.info(
        "figure 4: %d galaxies with mass predictions; %d also have Z, of which %d have a CNN mass outside "
        "the Tremonti et al. (2004) range and are left out of the right panel",
        len(mass),
        len(both),
        int((~valid).sum()),
    )
    both = both[valid]
    if both.empty:
        raise ValueError(
            f"no galaxy in {z_predictions_path} has a CNN mass inside the "
            f"Tremonti et al. (2004) range; check {mass_predictions_path}"
        )
    fig = plot_mass(
        mass["true"].to_numpy(),
        mass["pred"].to_numpy(),
        both["z_true"].to_numpy(),
        tremonti_metallicity(both["pred"].to_numpy()),
    )
    save_figure(fig, pdf_path, png_path)
    return fig

"""Figure 2: predicted against true metallicity, with binned scatter above."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.style import (
    COLORS,
    LINESTYLES,
    SCATTER,
    Z_PRED,
    Z_TRUE,
    ZORDER,
    density,
    density_colorbar,
    new_figure,
    notice_figure,
    one_to_one,
    padded_range,
    save_figure,
)
from galcnn.metrics import bin_edges, binned_stats, nmad, rmse
from galcnn.reference import load_reference

log = logging.getLogger(__name__)


def draw_predicted_vs_true(
    fig: Figure,
    cell,
    true,
    pred,
    step: float = 0.1,
    xlabel: str = Z_TRUE,
    ylabel: str = Z_PRED,
    limits: tuple[float, float] | None = None,
    title: str | None = None,
    colorbar: bool = True,
):
    """Figure 2's panel in grid cell ``cell`` of ``fig``: 2-D histogram of (true, pred) with
    the running median (red), ±RMSE (blue) and ±NMAD (orange) in bins of ``true`` and the
    1:1 line; above it the binned RMSE and NMAD (marker area ∝ bin count) and their global
    values. ``limits`` fixes both axes (panels to compare); returns (top, main) axes."""
    global_rmse, global_nmad = rmse(pred, true), nmad(pred, true)
    lo, hi = limits if limits is not None else padded_range(true, pred, step=step)
    stats = binned_stats(true, pred, bin_edges(lo, hi, step))
    stats = stats[stats["count"] > 0]

    widths = [24, 1] if colorbar else [1]
    grid = cell.subgridspec(
        2, len(widths), height_ratios=[1, 3.2], width_ratios=widths, hspace=0.05, wspace=0.05
    )
    ax_top = fig.add_subplot(grid[0, 0])
    ax = fig.add_subplot(grid[1, 0], sharex=ax_top)

    image = density(ax, true, pred, lo, hi)
    if colorbar:
        density_colorbar(fig, image, fig.add_subplot(grid[1, 1]))
    c, m = stats["center"], stats["median"]
    ax.plot(c, m, color=COLORS["median"], lw=2, label="median", zorder=4)
    # RMSE and NMAD are often nearly equal: dashes and dots, RMSE on top, keep both visible.
    for metric, label in (("rmse", "± RMSE"), ("nmad", "± NMAD")):
        style = {
            "ls": LINESTYLES[metric],
            "color": COLORS[metric],
            "lw": 1.5,
            "zorder": ZORDER[metric],
        }
        ax.plot(c, m + stats[metric], label=label, **style)
        ax.plot(c, m - stats[metric], **style)
    one_to_one(ax, lo, hi)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower right", frameon=False)

    area = 120 * stats["count"] / stats["count"].max()
    for key, value in (("rmse", global_rmse), ("nmad", global_nmad)):
        label = f"{key.upper()} = {value:.4f} dex"
        ax_top.scatter(
            c, stats[key], s=area, color=COLORS[key], edgecolors="white", label=label, zorder=3
        )
        ax_top.axhline(value, color=COLORS[key], lw=1.5, ls=LINESTYLES[key], zorder=ZORDER[key] - 2)
    ax_top.set_ylim(0, 1.15 * max(stats["rmse"].max(), stats["nmad"].max(), global_rmse))
    ax_top.set_ylabel(SCATTER)
    ax_top.tick_params(labelbottom=False)
    ax_top.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncols=2)
    if title:
        ax_top.set_title(title, pad=22, fontsize=8)
    return ax_top, ax


def plot_predicted_vs_true(
    true,
    pred,
    step: float = 0.1,
    xlabel: str = Z_TRUE,
    ylabel: str = Z_PRED,
    title: str | None = None,
) -> Figure:
    """Figure 2: :func:`draw_predicted_vs_true` on a figure of its own."""
    fig = new_figure(5.0, 6.0)
    draw_predicted_vs_true(fig, fig.add_gridspec(1, 1)[0], true, pred, step, xlabel, ylabel)
    if title:
        fig.suptitle(title, y=0.98, fontsize=8)
    return fig


def make_predicted_vs_true(predictions_path: str, pdf_path: str, png_path: str) -> Figure:
    pred = pd.read_parquet(predictions_path, columns=["true", "pred"])
    log.info("figure 2 from %d test galaxies", len(pred))
    fig = plot_predicted_vs_true(pred["true"].to_numpy(), pred["pred"].to_numpy())
    save_figure(fig, pdf_path, png_path)
    return fig


def make_published_predicted_vs_true(
    status_path: str, predictions_path: str, resolution: int, pdf_path: str, png_path: str
) -> Figure:
    """Figure 2 drawn by the same code from the authors' published predictions at ``resolution`` px,
    or a notice saying why they are unavailable."""
    reference = load_reference(status_path, {resolution: predictions_path})
    if reference.available:
        pred = reference.frames[resolution]
        log.info("figure 2 from %d published test galaxies (%s)", len(pred), reference.source)
        fig = plot_predicted_vs_true(
            pred["true"].to_numpy(),
            pred["pred"].to_numpy(),
            title=f"Wu & Boada (2019), published, {resolution} px ({reference.source})",
        )
    else:
        # reference_fetch has warned, with the reason and the fix; one line here is enough.
        log.info("published predictions unavailable: drawing a panel that says why")
        fig = notice_figure(
            "Figure 2 from the published predictions: not drawn", reference.describe()
        )
    save_figure(fig, pdf_path, png_path)
    return fig

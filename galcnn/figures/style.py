"""Shared look of the figures: colour-blind-safe colours, labels, and saving."""

from __future__ import annotations

import logging
import textwrap

import matplotlib
import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from galcnn.storage import atomic_path

# Jobs run headless on cluster nodes: never let a GUI backend be picked.
matplotlib.use("Agg")

log = logging.getLogger(__name__)

#: Okabe & Ito (2008) colour-blind-safe palette; the roles follow the paper's
#: figure 2 (running median red, RMSE blue, NMAD orange).
COLORS = {
    "median": "#D55E00",  # vermillion
    "rmse": "#0072B2",  # blue
    "nmad": "#E69F00",  # orange
    "sdss": "#000000",
    "cnn": "#009E73",  # bluish green
    "cnn_r": "#CC79A7",  # reddish purple
    "rf": "#56B4E9",  # sky blue
    "mean": "#999999",
}

#: RMSE and NMAD lines (Fig. 2 and its kind): RMSE dashed and drawn above the dotted NMAD, so
#: that where the two coincide both stay visible.
LINESTYLES = {"rmse": (0, (5, 2)), "nmad": (0, (1.5, 1.5))}
ZORDER = {"rmse": 3.5, "nmad": 3}

Z_TRUE = r"$Z_\mathrm{true}$ = 12 + log(O/H) [dex]"
Z_PRED = r"$Z_\mathrm{pred}$ = 12 + log(O/H) [dex]"
DZ = r"$\Delta Z = Z_\mathrm{pred} - Z_\mathrm{true}$ [dex]"
M_TRUE = r"log $M_{\star,\mathrm{true}}$ / $M_\odot$ [dex]"
M_PRED = r"log $M_{\star,\mathrm{pred}}$ / $M_\odot$ [dex]"
SCATTER = "scatter [dex]"

RC = {
    "font.size": 9,
    "axes.labelsize": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "savefig.bbox": "tight",
}


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas (no pyplot state, no display needed)."""
    matplotlib.rcParams.update(RC)
    return Figure(figsize=(width, height), layout=None)


#: Greys without its white end, so that bins holding a single galaxy stay visible.
DENSITY_CMAP = ListedColormap(
    matplotlib.colormaps["Greys"](np.linspace(0.25, 1.0, 256)), name="greys_visible"
)


def density(
    ax, x, y, lo: float, hi: float, bins: int = 80, y_range: tuple[float, float] | None = None
):
    """2-D histogram of (x, y) on a log colour scale over [lo, hi] (and ``y_range``, default the same)."""
    extent = [[lo, hi], list(y_range or (lo, hi))]
    *_, image = ax.hist2d(
        x, y, bins=bins, range=extent, cmin=1, cmap=DENSITY_CMAP, norm=LogNorm(vmin=1)
    )
    return image


def density_colorbar(fig: Figure, image, cax) -> None:
    """The colour bar of :func:`density`: counts as plain numbers at 1, 2, 5, 10, 20, ...
    (matplotlib's log axis would label a range of 1 to 8 as 2×10⁰ ... 6×10⁰)."""
    bar = fig.colorbar(image, cax=cax, label="galaxies per pixel")
    bar.ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())


def padded_range(*arrays, q: float = 0.002, step: float = 0.1) -> tuple[float, float]:
    """Axis limits covering all but the extreme ``q`` tails, on a ``step`` grid."""
    values = np.concatenate([np.asarray(a, dtype=float) for a in arrays])
    lo, hi = np.quantile(values, [q, 1 - q])
    lo, hi = np.floor(lo / step) * step, np.ceil(hi / step) * step
    if hi - lo < step:
        hi = lo + step
    return float(np.round(lo, 6)), float(np.round(hi, 6))


def one_to_one(ax, lo: float, hi: float, label: str | None = "1:1") -> None:
    ax.plot([lo, hi], [lo, hi], color="k", lw=1.2, alpha=0.8, label=label, zorder=2)


def notice_figure(title: str, message: str) -> Figure:
    """A figure that says why its content cannot be drawn (e.g. the published reference is
    unavailable), so that a report shows the gap instead of silently lacking the figure."""
    fig = new_figure(5.0, 2.2)
    fig.text(0.5, 0.72, title, ha="center", va="center", weight="bold")
    fig.text(0.5, 0.4, textwrap.fill(message, 90), ha="center", va="center", fontsize=7, wrap=True)
    return fig


def save_figure(fig: Figure, pdf_path: str, png_path: str, dpi: int = 200) -> None:
    """Write the figure as PDF (print) and PNG (report), each atomically."""
    for path, kwargs in ((pdf_path, {}), (png_path, {"dpi": dpi})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **kwargs)
        log.info("wrote %s", path)

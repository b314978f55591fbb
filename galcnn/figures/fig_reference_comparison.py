"""Ours against the published predictions, galaxy by galaxy, on the test galaxies both have."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.style import (
    density,
    new_figure,
    notice_figure,
    one_to_one,
    padded_range,
    save_figure,
)
from galcnn.reference import common_predictions, load_reference

log = logging.getLogger(__name__)


def plot_ours_vs_published(common: Mapping[int, pd.DataFrame], source: str) -> Figure:
    """One panel per resolution: 2-D histogram of our prediction against the published one, 1:1 line."""
    fig = new_figure(3.2 * len(common) + 0.4, 3.4)
    for k, (res, frame) in enumerate(sorted(common.items(), reverse=True), start=1):
        ax = fig.add_subplot(1, len(common), k)
        lo, hi = padded_range(frame["ours"], frame["published"])
        density(ax, frame["published"], frame["ours"], lo, hi)
        one_to_one(ax, lo, hi)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_title(f"{res} px, {len(frame)} galaxies")
        ax.set_xlabel(f"published $Z_\\mathrm{{pred}}$ ({source}) [dex]", fontsize=7)
        if k == 1:
            ax.set_ylabel(r"our $Z_\mathrm{pred}$ [dex]")
    return fig


def make_reference_comparison(
    prediction_paths: Mapping[int, str],
    status_path: str,
    reference_paths: Mapping[int, str],
    pdf_path: str,
    png_path: str,
) -> Figure:
    reference = load_reference(status_path, reference_paths)
    common = {
        res: common_predictions(
            pd.read_parquet(path, columns=["objID", "true", "pred"]), reference, res
        )
        for res, path in prediction_paths.items()
    }
    common = {res: frame for res, frame in common.items() if len(frame)}
    if common:
        fig = plot_ours_vs_published(common, reference.source)
    else:
        why = (
            reference.describe()
            if not reference.available
            else "no test galaxy of ours is among the published ones"
        )
        log.warning("ours vs published: nothing to compare (%s)", why)
        fig = notice_figure("Ours against the published predictions: not drawn", why)
    save_figure(fig, pdf_path, png_path)
    return fig

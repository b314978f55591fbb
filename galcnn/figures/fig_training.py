"""Training curves: every model's training and validation RMSE per epoch (history.csv), with the
stage boundary, the SGDR cycles and the learning rate."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from galcnn.cnn.schedule import SGDR
from galcnn.figures.style import new_figure, save_figure

log = logging.getLogger(__name__)

#: One colour per fold (Okabe & Ito), repeated beyond eight folds.
FOLD_COLORS = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#999999",
]
LR_COLOR = "#999999"


def plot_training(histories: dict[tuple[str, str, int], dict[int, pd.DataFrame]]) -> Figure:
    """One panel per model configuration (target, bands, res): per fold, the training RMSE
    (dashed; measured on augmented batches while the weights change) and the validation RMSE
    (solid) against epoch; the head's learning rate at each epoch's start (grey steps, log scale, right axis); a
    vertical line where stage 2 (the unfrozen body) starts and dotted lines at each SGDR restart."""
    keys = list(histories)
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = new_figure(3.6 * ncols, 2.6 * nrows + 0.5)
    grid = fig.add_gridspec(nrows, ncols, hspace=0.6, wspace=0.85)
    for i, key in enumerate(keys):
        target, bands, res = key
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        ax_lr = ax.twinx()
        folds = histories[key]
        first = next(iter(folds.values()))
        for fold, history in folds.items():
            color = FOLD_COLORS[fold % len(FOLD_COLORS)]
            epochs = history["epoch"] + 1
            ax.plot(epochs, history["train_loss"], ls="--", color=color, lw=1.2)
            ax.plot(
                epochs, history["val_loss"], "-o", ms=3, color=color, lw=1.5, label=f"fold {fold}"
            )
        # each epoch's starting rate across the epoch: steps from x - 0.5 to x + 0.5
        edges = np.append(first["epoch"] + 0.5, first["epoch"].iloc[-1] + 1.5)
        ax_lr.stairs(first["lr"], edges, color=LR_COLOR, lw=1, alpha=0.8)
        ax_lr.set_yscale("log")
        ax_lr.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax_lr.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax_lr.yaxis.set_minor_formatter(NullFormatter())
        ax_lr.tick_params(axis="y", colors=LR_COLOR, labelsize=7)
        for boundary in _boundaries(first):
            ax.axvline(
                boundary["at"],
                color="k",
                lw=1 if boundary["stage"] else 0.6,
                ls="-" if boundary["stage"] else ":",
            )
        ax.set_title(f"{target}, {bands}, {res} px", fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_ylabel("RMSE [dex]")
        ax.set_xlim(0.5, first["epoch"].max() + 1.5)
        ax.set_xticks(np.arange(1, first["epoch"].max() + 2))
        if i % ncols == ncols - 1 or i == len(keys) - 1:
            ax_lr.set_ylabel("learning rate", color=LR_COLOR)
    handles = [
        fig.axes[0].plot([], [], "-o", ms=3, color="k", label="validation")[0],
        fig.axes[0].plot([], [], "--", color="k", label="training (augmented)")[0],
        fig.axes[0].plot([], [], "-", color=LR_COLOR, label="learning rate (right axis)")[0],
        fig.axes[0].plot([], [], "-", color="k", lw=1, label="stage 2 starts")[0],
        fig.axes[0].plot([], [], ":", color="k", lw=0.6, label="new phase or SGDR cycle")[0],
    ]
    fold_handles = [
        fig.axes[0].plot([], [], "-", color=FOLD_COLORS[f % len(FOLD_COLORS)], label=f"fold {f}")[0]
        for f in sorted({f for folds in histories.values() for f in folds})
    ]
    fig.legend(
        handles=handles + fold_handles, loc="upper center", ncols=4, frameon=False, fontsize=7
    )
    fig.subplots_adjust(top=1 - 0.75 / fig.get_figheight())
    return fig


def _boundaries(history: pd.DataFrame) -> list[dict]:
    """Between-epoch positions (x = epoch + 0.5) where stage 2 starts (``stage``), or where a new
    phase or SGDR cycle does: the phase changes, or an SGDR epoch starts at a rate no lower than
    the previous epoch's (within a cosine cycle the rate only falls)."""
    out = []
    rows = history.to_dict("records")
    for before, after in zip(rows, rows[1:]):
        restart = after["phase"] == before["phase"] == SGDR and after["lr"] >= before["lr"]
        if after["stage"] != before["stage"]:
            out.append({"at": after["epoch"] + 0.5, "stage": True})
        elif after["phase"] != before["phase"] or restart:
            out.append({"at": after["epoch"] + 0.5, "stage": False})
    return out


def make_training(
    history_paths: list[str], models: list[list], pdf_path: str, png_path: str
) -> Figure:
    """The figure from each fold model's history.csv; ``models`` gives the (target, bands, res,
    fold) of each path, in order."""
    if len(history_paths) != len(models):
        raise ValueError(f"{len(history_paths)} history files for {len(models)} models")
    histories: dict[tuple[str, str, int], dict[int, pd.DataFrame]] = {}
    for path, (target, bands, res, fold) in zip(history_paths, models):
        history = pd.read_csv(path)
        if history.empty:
            raise ValueError(f"{path} has no epochs: the model's training wrote no history")
        histories.setdefault((target, bands, int(res)), {})[int(fold)] = history
    log.info("training curves of %d models in %d configurations", len(models), len(histories))
    fig = plot_training(histories)
    save_figure(fig, pdf_path, png_path)
    return fig

"""Figure 1: example galaxies at the extremes of the predictions, and at random."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.style import new_figure, save_figure
from galcnn.storage import atomic_path

log = logging.getLogger(__name__)

GROUPS = (
    "lowest $Z_\\mathrm{pred}$",
    "highest $Z_\\mathrm{pred}$",
    "most negative $\\Delta Z$",
    "most positive $\\Delta Z$",
    "random",
)


def select_gallery(predictions: pd.DataFrame, n: int = 5, seed: int = 0) -> pd.DataFrame:
    """``n`` galaxies per row of the gallery: lowest and highest prediction, most
    negative and most positive residual, and ``n`` drawn at random (seeded).
    Returns ``group``, ``objID``, ``true``, ``pred`` in display order."""
    if len(predictions) < n:
        raise ValueError(f"the gallery needs at least {n} test galaxies, got {len(predictions)}")
    frame = predictions[["objID", "true", "pred"]].reset_index(drop=True)
    dz = frame["pred"] - frame["true"]
    by_pred = frame["pred"].to_numpy().argsort(kind="stable")
    by_dz = dz.to_numpy().argsort(kind="stable")
    rng = np.random.default_rng(seed)
    picks = (
        by_pred[:n],
        by_pred[::-1][:n],
        by_dz[:n],
        by_dz[::-1][:n],
        np.sort(rng.choice(len(frame), n, replace=False)),
    )
    parts = [frame.iloc[idx].assign(group=group) for group, idx in zip(GROUPS, picks)]
    return pd.concat(parts, ignore_index=True)[["group", "objID", "true", "pred"]]


def plot_gallery(images: np.ndarray, selection: pd.DataFrame) -> Figure:
    """One row per group of ``selection``, one image each (``images[i]`` belongs to
    ``selection.iloc[i]``), labelled with Z_pred and Z_true, and with the width of its field
    in arcsec when ``selection`` has the cutouts' ``scale`` (per galaxy under
    ``cutouts.framing: petrosian``)."""
    if len(images) != len(selection):
        raise ValueError(f"{len(images)} images for {len(selection)} selected galaxies")
    groups = list(dict.fromkeys(selection["group"]))
    ncols = int(selection.groupby("group", sort=False).size().max())
    fig = new_figure(1.5 * ncols + 0.6, 1.6 * len(groups))
    axes = fig.subplots(
        len(groups), ncols, squeeze=False, gridspec_kw={"wspace": 0.04, "hspace": 0.08}
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for r, group in enumerate(groups):
        rows = np.flatnonzero(selection["group"].to_numpy() == group)
        axes[r, 0].text(
            -0.08, 0.5, group, rotation=90, ha="right", va="center", transform=axes[r, 0].transAxes
        )
        for c, i in enumerate(rows):
            ax = axes[r, c]
            ax.imshow(np.asarray(images[i]), interpolation="nearest")
            row = selection.iloc[i]
            ax.text(
                0.03,
                0.03,
                f"$Z_\\mathrm{{pred}}$ = {row['pred']:.2f}\n$Z_\\mathrm{{true}}$ = {row['true']:.2f}",
                transform=ax.transAxes,
                ha="left",
                va="bottom",
                fontsize=7,
                color="white",
                bbox={"facecolor": "black", "alpha": 0.55, "pad": 1.5, "edgecolor": "none"},
            )
            if "scale" in selection.columns:
                ax.text(
                    0.97,
                    0.97,
                    f"{np.asarray(images[i]).shape[1] * row['scale']:.0f}″",
                    transform=ax.transAxes,
                    ha="right",
                    va="top",
                    fontsize=6,
                    color="white",
                )
    return fig


def extract_gallery(
    predictions_path: str, images_path: str, index_path: str, seed: int, out_path: str
) -> pd.DataFrame:
    """The gallery's galaxies (:func:`select_gallery`) and their native-resolution images in one
    small ``.npz``, so the figure (and a results bundle) needs neither the packed array nor the index."""
    predictions = pd.read_parquet(predictions_path, columns=["objID", "true", "pred"])
    selection = select_gallery(predictions, seed=seed)
    log.info(
        "figure 1: %d of %d test galaxies shown (random row seeded with %d)",
        len(selection),
        len(predictions),
        seed,
    )
    index = pd.read_parquet(index_path)
    # Indexes made before the per-galaxy framing have no scale column.
    index = index[[c for c in ("objID", "row", "scale") if c in index.columns]]
    placed = selection[["objID"]].merge(index, on="objID", how="left")
    rows = placed["row"]
    if "scale" in placed.columns:
        selection = selection.assign(scale=placed["scale"].to_numpy())
    if rows.isna().any():
        missing = selection.loc[rows.isna().to_numpy(), "objID"].tolist()
        raise ValueError(
            f"galaxies {missing[:5]} have predictions but no image in {index_path}; rebuild the images"
        )
    images = np.load(images_path, mmap_mode="r")[rows.to_numpy(dtype=np.int64)]
    # Fixed-width unicode, not objects: the file loads without pickle.
    columns = {
        c: selection[c].to_numpy(dtype=str if c == "group" else None) for c in selection.columns
    }
    with atomic_path(out_path) as tmp:
        np.savez(tmp, images=images, **columns)
    return selection


def read_gallery(path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The selection table and images written by :func:`extract_gallery`."""
    with np.load(path) as data:
        names = ("group", "objID", "true", "pred") + (("scale",) if "scale" in data.files else ())
        selection = pd.DataFrame({c: data[c] for c in names})
        return selection, data["images"]


def make_gallery(gallery_path: str, pdf_path: str, png_path: str) -> Figure:
    selection, images = read_gallery(gallery_path)
    fig = plot_gallery(images, selection)
    save_figure(fig, pdf_path, png_path)
    return fig

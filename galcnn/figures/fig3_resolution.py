"""Figure 3: scatter of the CNN's metallicity residuals against image size."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from galcnn.figures.style import COLORS, new_figure, save_figure
from galcnn.metrics import nmad, rmse
from galcnn.reference import Reference, load_reference

log = logging.getLogger(__name__)

BASELINE_LABELS = {"mean": "predict the mean", "rf": "random forest (g, r, i)"}
BASELINE_STYLES = {"mean": ":", "rf": "-."}


def scores(frames: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """RMSE and NMAD of each resolution's ensemble predictions (``resolution``, ``n``, ``rmse``, ``nmad``)."""
    rows = [
        {
            "resolution": int(res),
            "n": len(f),
            "rmse": rmse(f["pred"], f["true"]),
            "nmad": nmad(f["pred"], f["true"]),
        }
        for res, f in frames.items()
    ]
    return pd.DataFrame(rows).sort_values("resolution").reset_index(drop=True)


def plot_resolution(
    cnn: pd.DataFrame,
    baselines: Mapping[str, tuple[float, float]],
    reference: Reference | None = None,
) -> Figure:
    """RMSE (blue) and NMAD (orange) against image size on a log axis; each baseline
    (``{method: (rmse, nmad)}``) as a horizontal line in the same colours with an
    arrow at the right edge; the published predictions' curve (open squares, dashed)
    when ``reference`` is available, else a note saying why it is missing."""
    fig = new_figure(5.0, 3.6)
    ax = fig.add_subplot()
    published = scores(reference.frames) if reference is not None and reference.available else None
    for metric in ("rmse", "nmad"):
        ax.plot(
            cnn["resolution"],
            cnn[metric],
            "o-",
            color=COLORS[metric],
            ms=6,
            label=f"CNN {metric.upper()}",
            zorder=3,
        )
        if published is not None:
            ax.plot(
                published["resolution"],
                published[metric],
                "s--",
                mfc="white",
                color=COLORS[metric],
                ms=6,
                zorder=3,
                label=f"published CNN {metric.upper()} (Wu & Boada 2019)",
            )
    if reference is not None and not reference.available:
        ax.text(
            0.02,
            0.02,
            "published curve unavailable (see the summary table)",
            transform=ax.transAxes,
            fontsize=7,
            color="0.3",
        )
    res = (
        cnn["resolution"].to_numpy()
        if published is None
        else np.union1d(cnn["resolution"], published["resolution"])
    )
    x_lo, x_hi = res.min() / 1.6, res.max() * 2.2
    for method, values in baselines.items():
        for metric, value in zip(("rmse", "nmad"), values):
            ax.axhline(
                value,
                color=COLORS[metric],
                ls=BASELINE_STYLES.get(method, "--"),
                lw=1.2,
                zorder=1,
                label=f"{BASELINE_LABELS.get(method, method)} {metric.upper()}",
            )
            ax.annotate(
                "",
                xy=(res.max() * 1.3, value),
                xytext=(x_hi, value),
                arrowprops={"arrowstyle": "->", "color": COLORS[metric], "lw": 1.5},
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks(res, [str(r) for r in res])
    ax.minorticks_off()
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, None)
    ax.set_xlabel("image size [pixels]")
    ax.set_ylabel(r"scatter of $\Delta Z$ [dex]")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, fontsize=7, ncols=2)
    return fig


def make_resolution(
    prediction_paths: Mapping[int, str],
    baseline_paths: Mapping[str, str],
    pdf_path: str,
    png_path: str,
    reference_status: str | None = None,
    reference_paths: Mapping[int, str] | None = None,
) -> Figure:
    cnn = scores(
        {res: pd.read_parquet(p, columns=["true", "pred"]) for res, p in prediction_paths.items()}
    )
    for _, row in cnn.iterrows():
        log.info(
            "%4d px: RMSE %.4f NMAD %.4f (n=%d)",
            row["resolution"],
            row["rmse"],
            row["nmad"],
            row["n"],
        )
    baselines = {}
    for method, path in baseline_paths.items():
        f = pd.read_parquet(path, columns=["true", "pred"])
        baselines[method] = (rmse(f["pred"], f["true"]), nmad(f["pred"], f["true"]))
    reference = load_reference(reference_status, reference_paths or {})
    if reference is not None:
        log.info("%s", reference.describe())
    fig = plot_resolution(cnn, baselines, reference)
    save_figure(fig, pdf_path, png_path)
    return fig

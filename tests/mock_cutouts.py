"""Rendered cutouts of the demo's mock population, and blank cutouts made from them.

Shared by the tests and ``tests/benchmarks/blank_rule.py``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from galcnn.mock import catalog as mc
from galcnn.mock import images as mi

REPO = Path(__file__).resolve().parents[1]
SIZE, SCALE = 128, 0.296
#: Real SkyServer DR14 ImgCutout JPEGs (128 px at 0.296″/px), as :func:`galcnn.cutouts.sky_statistics`
#: measures them: the range over the five cutouts of the authors' example figure
#: (jwuphysics/galaxy-cnns, docs/figures/example.png).
REAL_SKY = {
    "border_mean": (2.7, 5.4),
    "border_std": (2.8, 6.1),
    "median_max": (7, 9),
    "black": (0.11, 0.21),
}

#: Synthetic footprint edges: which part of a cutout SkyServer would have filled with zeros.
ZEROED_REGIONS = (
    "top third",
    "bottom third",
    "left third",
    "right third",
    "top half",
    "bottom half",
    "left half",
    "right half",
    "corner third",
    "corner half",
    "diagonal third",
    "diagonal half",
    "all",
)


def demo_population() -> pd.DataFrame:
    """The truth table of the demo's mock galaxies (config/demo.yaml on config/config.yaml)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["mock"]
    return mc.simulate_catalog(demo["n_galaxies"], demo["seed"], config["query"]["cuts"])[1]


def sample(truth: pd.DataFrame, n: int, n_extreme: int) -> pd.DataFrame:
    """``n`` galaxies: the ``n_extreme`` faintest (in r) and smallest, then the first others."""
    flux_r = truth["flux_bulge_r"] + truth["flux_disk_r"]
    extreme = flux_r.nsmallest(n_extreme).index.union(truth["hlr"].nsmallest(n_extreme).index)
    others = truth.index.difference(extreme)[: max(0, n - len(extreme))]
    return truth.loc[extreme.union(others)]


def render(row, seed: int = 2019) -> np.ndarray:
    """The galaxy's RGB cutout before JPEG compression."""
    return mi.render_cutout(row, SIZE, SCALE, mi.galaxy_rng(seed, row["objID"]))


def decoded(rgb: np.ndarray) -> np.ndarray:
    """The pixels a reader gets back from the cutout's JPEG."""
    with Image.open(io.BytesIO(mi.encode_jpeg(rgb))) as img:
        return np.asarray(img.convert("RGB"))


def pure_sky(row) -> pd.Series:
    """The row with its galaxy and every neighbour and star removed: only the sky is left."""
    empty = row.copy()
    empty[[c for c in row.index if c.startswith("flux_")]] = 0.0
    empty[["n_neighbours", "n_stars"]] = 0
    return empty


def zeroed(rgb: np.ndarray, region: str) -> np.ndarray:
    """A copy of ``rgb`` with ``region`` (one of :data:`ZEROED_REGIONS`) set to zero."""
    out = rgb.copy()
    h, w = out.shape[:2]
    y, x = np.mgrid[:h, :w]
    part, _, share = region.partition(" ")
    fraction = {"third": 1 / 3, "half": 1 / 2, "": 1.0}[share]
    masks = {
        "top": y < fraction * h,
        "bottom": y >= (1 - fraction) * h,
        "left": x < fraction * w,
        "right": x >= (1 - fraction) * w,
        # A square in the lower-right corner and a triangle cut off the upper-left one.
        "corner": (y >= (1 - np.sqrt(fraction)) * h) & (x >= (1 - np.sqrt(fraction)) * w),
        "diagonal": x / w + y / h < np.sqrt(2 * fraction),
        "all": np.ones((h, w), bool),
    }
    out[masks[part]] = 0
    return out

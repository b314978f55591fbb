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
#: 50 of the authors' real DR14 cutouts (provenance and acknowledgement in its README.md).
REAL_CUTOUTS = REPO / "tests" / "data" / "real_cutouts"
#: Real SkyServer DR14 ImgCutout JPEGs as :func:`galcnn.cutouts.sky_statistics` measures them: the
#: 10-90 % range over 500 of the authors' cutouts (jwuphysics/convnet-demo; 50 are in REAL_CUTOUTS).
REAL_SKY = {
    "border_mean": (2.96, 7.68),
    "border_std": (2.75, 12.0),
    "median_max": (5, 12),
    "black": (0.066, 0.345),
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


def demo_survey() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(catalogue, truth) of the demo's mock galaxies (config/demo.yaml on config/config.yaml)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["mock"]
    return mc.simulate_catalog(demo["n_galaxies"], demo["seed"], config["query"]["cuts"])


def demo_population() -> pd.DataFrame:
    """The truth table of the demo's mock galaxies."""
    return demo_survey()[1]


def with_petrosian_scale(catalog: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The truth table with each galaxy's ``scale`` as the authors framed their cutouts
    (download_images.py: 2 petroR90_r / 0.396 / 128 arcsec per pixel), the framing of the real
    cutouts in tests/data/real_cutouts."""
    petro = catalog.set_index("objID")["petroR90_r"].loc[truth["objID"]].to_numpy()
    return truth.assign(scale=2 * petro / mi.NATIVE_SCALE / SIZE)


def real_cutouts(selection: str | None = "even") -> list[Path]:
    """The real cutouts of the fixture (all, or those of one ``selection`` in its provenance)."""
    prov = pd.read_csv(REAL_CUTOUTS / "provenance.csv")
    if selection is not None:
        prov = prov[prov["selection"] == selection]
    return [REAL_CUTOUTS / f for f in prov["file"]]


def sample(truth: pd.DataFrame, n: int, n_extreme: int) -> pd.DataFrame:
    """``n`` galaxies: the ``n_extreme`` faintest (in r) and smallest, then the first others."""
    flux_r = truth["flux_bulge_r"] + truth["flux_disk_r"]
    extreme = flux_r.nsmallest(n_extreme).index.union(truth["hlr"].nsmallest(n_extreme).index)
    others = truth.index.difference(extreme)[: max(0, n - len(extreme))]
    return truth.loc[extreme.union(others)]


def render(row, seed: int = 2019) -> np.ndarray:
    """The galaxy's RGB cutout before JPEG compression, at its ``scale`` if it has one."""
    scale = float(row["scale"]) if "scale" in row.index else SCALE
    return mi.render_cutout(row, SIZE, scale, mi.galaxy_rng(seed, row["objID"]))


def decoded(rgb: np.ndarray) -> np.ndarray:
    """The pixels a reader gets back from the cutout's JPEG."""
    with Image.open(io.BytesIO(mi.encode_jpeg(rgb))) as img:
        return np.asarray(img.convert("RGB"))


def pure_sky(row) -> pd.Series:
    """The row with its galaxy removed: only the sky and the field's other sources are left."""
    empty = row.copy()
    empty[[c for c in row.index if c.startswith("flux_")]] = 0.0
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

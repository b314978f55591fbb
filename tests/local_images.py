"""Generated galaxy images for the local survey's tests: a noisy sky and a round source at the
centre whose brightness follows the metallicity, saved as PNG. Realism does not matter here;
the images need only pass the blank rule and let a model learn something."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def galaxy(size: int, brightness: float, rng: np.random.Generator) -> np.ndarray:
    """A size x size x 3 uint8 image: sky of about 10 counts and a Gaussian source at the centre."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    profile = np.exp(-(x**2 + y**2) / (2 * (size / 8) ** 2))
    colour = np.array([1.0, 0.8, 0.6])
    pixels = 10 + rng.normal(0, 2, (size, size, 3)) + brightness * profile[..., None] * colour
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def write_sample(folder: Path, n: int, size: int, seed: int, first_id: int = 1000) -> pd.DataFrame:
    """``n`` images <objID>.png in ``folder`` and their catalogue (objID, oh_p50, note)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    oh = rng.uniform(8.3, 9.2, n)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    for objid, z in zip(ids, oh):
        Image.fromarray(galaxy(size, 60 + 150 * (z - 8.3), rng)).save(folder / f"{objid}.png")
    return pd.DataFrame({"objID": ids, "oh_p50": oh, "note": [f"g{i}" for i in ids]})

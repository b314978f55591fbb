"""How much a cutout looks like a real SkyServer one: the statistics that compare mock and real skies.

Each statistic is computed per cutout on its 0-255 counts; the mock is judged by whether its median
falls inside the real cutouts' 10-90 % range. The border rows and the central disc scale with the
side (15 and 8 of 128 px, as :mod:`galcnn.cutouts` uses them). What each one checks:

==================  ===============================================================================
sky_r_minus_b       border rows: mean R - mean B. The sky's colour: the per-band sky noise, clipped
                    at zero per channel, under SkyServer's i, r, g scalings.
ctr_r_minus_b       central disc: (R - B) / (R + G + B). The galaxies' colour.
noise_ac1           lag-1 horizontal autocorrelation of the border's grey, sources excluded: how far
                    the noise is correlated (the upsampled native pixels).
sky_block_std       std of the median grey of the 16 px blocks along the top and bottom: sky gradients
                    and scattered light.
n_neighbours        other connected regions of >= 4 px above the sky (stars, neighbours).
border_mean         mean of every channel in the border rows: the sky level.
black_win32         largest share of black pixels (brightest channel <= 3) in a 32 px square: the dark
                    patches the blank rule must tell from off-footprint zeros.
r_iso_px            equivalent radius of the central region above the sky: the framing.
border_std          std of every channel in the border rows: the noise amplitude.
black               share of black pixels.
==================  ===============================================================================

"Above the sky" is the 3x3-smoothed grey more than :data:`SOURCE_LEVEL` counts over the border's
median grey.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from galcnn import cutouts

#: Grey counts above the border's median that make a pixel part of a source.
SOURCE_LEVEL = 12
#: Smallest region counted as another source (px).
MIN_SOURCE_AREA = 4
#: Side of the sky blocks (px at 128) and of the dark-patch square.
BLOCK, BLACK_WINDOW = 16, 32
#: The statistics, in the order of the table.
STATISTICS = (
    "sky_r_minus_b",
    "ctr_r_minus_b",
    "noise_ac1",
    "sky_block_std",
    "n_neighbours",
    "border_mean",
    "black_win32",
    "r_iso_px",
    "border_std",
    "black",
)


def statistics(pixels: np.ndarray) -> dict[str, float]:
    """The :data:`STATISTICS` of one RGB cutout (uint8, square)."""
    h = pixels.shape[0]
    f = pixels.astype(np.float64)
    grey = f.mean(axis=2)
    border = cutouts.border_rows(f)
    border_grey = cutouts.border_rows(grey)
    n = border.shape[0] // 2
    sky = float(np.median(border_grey))
    y, x = np.ogrid[:h, :h]
    disc = (y - (h - 1) / 2) ** 2 + (x - (h - 1) / 2) ** 2 <= (cutouts.CENTRE_RADIUS * h) ** 2

    source = ndimage.uniform_filter(grey, 3) > sky + SOURCE_LEVEL
    labels, count = ndimage.label(source)
    centre = labels[h // 2, h // 2] or labels[h // 2 - 1, h // 2 - 1]
    areas = ndimage.sum(source, labels, index=np.arange(1, count + 1)) if count else np.zeros(0)
    others = [a for k, a in enumerate(areas, 1) if k != centre and a >= MIN_SOURCE_AREA]

    centre_rgb = f[disc].mean(axis=0)
    black = cutouts.brightest_channel(pixels) <= cutouts.ZERO_LEVEL
    window = max(1, round(BLACK_WINDOW * h / 128))
    half = window // 2
    share = ndimage.uniform_filter(black.astype(np.float32), window, mode="constant")
    k = max(1, round(BLOCK * h / 128))
    blocks = [
        np.median(grey[r0 : r0 + k, c0 : c0 + k])
        for r0 in (0, h - k)
        for c0 in range(0, h - k + 1, k)
    ]
    return {
        "sky_r_minus_b": float(border[..., 0].mean() - border[..., 2].mean()),
        "ctr_r_minus_b": float((centre_rgb[0] - centre_rgb[2]) / max(centre_rgb.sum(), 1e-6)),
        "noise_ac1": _lag1(border_grey, cutouts.border_rows(source), n),
        "sky_block_std": float(np.std(blocks)),
        "n_neighbours": float(len(others)),
        "border_mean": float(border.mean()),
        "black_win32": float(share[half:-half, half:-half].max()) if h > window else float("nan"),
        "r_iso_px": float(np.sqrt(areas[centre - 1] / np.pi)) if centre else 0.0,
        "border_std": float(border.std()),
        "black": float(black.mean()),
    }


def _lag1(grey: np.ndarray, source: np.ndarray, rows: int) -> float:
    """Lag-1 horizontal autocorrelation of each row's deviations from its median, where neither
    pixel is in a source (NaN with under 50 pairs)."""
    g = grey - np.median(grey, axis=1, keepdims=True)
    a, b = g[:, :-1], g[:, 1:]
    ok = ~(source[:, :-1] | source[:, 1:])
    if ok.sum() <= 50:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    return float((a * b).mean() / max(np.sqrt((a**2).mean() * (b**2).mean()), 1e-9))


def measure(images) -> pd.DataFrame:
    """One row of :func:`statistics` per image (arrays, or paths of JPEGs)."""
    rows = []
    for image in images:
        if isinstance(image, (str, Path)):
            with Image.open(image) as img:
                image = np.asarray(img.convert("RGB"))
        rows.append(statistics(image))
    return pd.DataFrame(rows, columns=list(STATISTICS))


def compare(real: pd.DataFrame, mock: pd.DataFrame) -> pd.DataFrame:
    """Per statistic: the real and mock medians and 10th/90th percentiles, and whether the mock's
    median is inside the real 10-90 % range."""
    out = []
    for name in STATISTICS:
        r, m = real[name].dropna(), mock[name].dropna()
        lo, hi = np.percentile(r, [10, 90])
        med = float(np.median(m)) if len(m) else float("nan")
        out.append(
            {
                "statistic": name,
                "real_median": float(np.median(r)),
                "real_p10": float(lo),
                "real_p90": float(hi),
                "mock_median": med,
                "mock_p10": float(np.percentile(m, 10)) if len(m) else float("nan"),
                "mock_p90": float(np.percentile(m, 90)) if len(m) else float("nan"),
                "within": bool(lo <= med <= hi),
            }
        )
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame) -> str:
    """:func:`compare`'s table as Markdown: median [10th, 90th percentile]."""
    lines = ["| statistic | real | mock | mock median within |", "| --- | --- | --- | --- |"]
    for r in table.itertuples():
        lines.append(
            f"| {r.statistic} | {r.real_median:.3g} [{r.real_p10:.3g}, {r.real_p90:.3g}] "
            f"| {r.mock_median:.3g} [{r.mock_p10:.3g}, {r.mock_p90:.3g}] | {'yes' if r.within else 'no'} |"
        )
    return "\n".join(lines)

"""The cutout store: shards of JPEG files, one manifest per shard, and JPEG checks.

Rendered (mock survey) and downloaded (SkyServer) cutouts share this layout::

    results/cutouts/shard007/1237648720693755918.jpg
    results/cutouts/shard007.manifest.parquet    # objID, status, reason, path

A galaxy's shard is ``objID mod n_shards``, so it does not depend on the
catalogue's row order. The JPEGs are not declared Snakemake outputs (only the
manifest is), so a shard job that is interrupted and rerun keeps the files it
already wrote and skips them.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from scipy.ndimage import maximum_filter, uniform_filter

from galcnn import paths, storage

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("objID", "status", "reason", "path")
OK, BLANK, FAILED = "ok", "blank", "failed"

# Blank cutouts. Off the imaging footprint SkyServer fills the cutout with zeros, so a
# cutout on a footprint edge has a flat black region with straight edges (softened by
# JPEG ringing), and one wholly off it is black. The real sky is near black too (7–35 %
# of its pixels are ≤ 3 in every channel, 10–90 % over 500 of the paper's cutouts), in
# patches that the two JPEGs flatten, but never as large a flat area, so zeros are told
# from sky by area, not by level.
#: Brightest channel at or below this is black (JPEG ringing lifts true zeros by a count or two).
ZERO_LEVEL = 3
#: Side of the square that must be black throughout for a region to count as zero-valued. On 500
#: real cutouts of the paper's galaxies the blackest 32 px square is 97.8 % black (0.56 typical),
#: and wholly black 20–28 px squares occur in 9; on mock skies darker than nine real ones in ten
#: (tests/test_cutouts.py) none is whole, they first appear when the typical sky is darker than
#: the darkest real tenth. The zeroed strip of a cutout a third off the footprint (43 px) holds
#: whole 32 px squares.
ZERO_WINDOW = 32
#: Zero-valued share of the image that makes it blank. One black ZERO_WINDOW square alone is
#: 6 % of the field, so any zero-valued region makes a cutout blank.
ZERO_AREA = 0.05
# A target with no source at its centre (a wrong position, or a pure-sky field) is blank too.
#: Rows at the top and bottom edges that stand for the sky, as a share of the side: 15 of
#: 128 px, beyond ~1.9 petroR90 from the centre of a galaxy framed by its size (the outer 4.4″
#: of the 37.9″ field at a fixed 0.296″/px), beyond all but the largest targets' light.
BORDER_ROWS = 15 / 128
#: Radius of the central disc, as a share of the side: 8 of 128 px (2.4″), the 1.5″ radius of
#: the spectroscopic fibre, which every target fills, widened by the seeing.
CENTRE_RADIUS = 8 / 128
#: The centre's median grey level (mean of the channels) must exceed the border's by this
#: many counts. On real cutouts of the paper's galaxies the centre exceeds the border by 74 or
#: more in nine of ten (galcnn.realism); pure mock sky stays below it (tests/benchmarks/blank_rule.py).
CENTRE_MARGIN = 3.0


# Framing: the ImgCutout scale (arcsec per pixel) of each galaxy.
#: ``fixed``: every cutout at ``cutouts.scale`` (the paper's text, 0.296″/px); ``petrosian``: each
#: galaxy framed by its size, as the authors' download_images.py did (docs/paper.md, "Cutouts").
FRAMINGS = ("fixed", "petrosian")
#: SDSS camera pixel (arcsec): the authors' formula counts petroR90 in these pixels.
SDSS_PIXEL = 0.396
#: petroR90_r (arcsec) a galaxy must have to be framed by it. Below 1″ it is smaller than a point
#: source's seen through SDSS's ≈ 1.4″ seeing (≈ 1.3″), so it is no galaxy's measured size;
#: above 100″ (40 kpc at z = 0.02, the sample's nearest) it is a Petrosian radius run away on a
#: blend or a shredded galaxy. Either would frame a field of sky or of a neighbour.
PETRO_R90_RANGE = (1.0, 100.0)
#: Manifest-like status of the galaxies no cutout was requested for (their petroR90_r is unusable).
UNFRAMED = "unframed"


def framing_scale(petro_r90, size: int, factor: float = 2.0) -> np.ndarray:
    """The authors' per-galaxy ImgCutout scale: ``factor * petroR90_r / 0.396 / size`` arcsec per pixel
    (so petroR90 spans ``size * 0.396 / factor`` px, 25.3 px at 128 px and factor 2)."""
    return float(factor) * np.asarray(petro_r90, dtype=float) / SDSS_PIXEL / int(size)


def cutout_scales(
    catalog: pd.DataFrame, framing: str, size: int, scale: float, factor: float = 2.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each galaxy's ImgCutout scale under ``framing`` (:data:`FRAMINGS`).

    Returns ``(framed, unframed)``: ``framed`` is the catalogue's rows that get a cutout, with a
    ``scale`` column (arcsec per pixel): ``scale`` for all under ``fixed``, :func:`framing_scale`
    of ``petroR90_r`` under ``petrosian``; ``unframed`` lists (objID, status ``unframed``, reason)
    the galaxies whose petroR90_r is missing, not positive or outside :data:`PETRO_R90_RANGE`,
    which get none.
    """
    if framing not in FRAMINGS:
        raise ValueError(f"cutouts.framing is {framing!r}; choose one of {list(FRAMINGS)}")
    if framing == "fixed":
        framed = catalog.assign(scale=float(scale))
        return framed.reset_index(drop=True), _unframed([], [])
    if "petroR90_r" not in catalog.columns:
        raise ValueError(
            f"cutouts.framing: petrosian frames each galaxy by its petroR90_r (arcsec), which the catalogue "
            f"lacks (it has {list(catalog.columns)}); add the column or set cutouts.framing: fixed"
        )
    r90 = pd.to_numeric(catalog["petroR90_r"], errors="coerce").to_numpy(dtype=float)
    lo, hi = PETRO_R90_RANGE
    reasons = np.full(len(r90), "", dtype=object)
    with np.errstate(invalid="ignore"):
        reasons[r90 > hi] = f"petroR90_r above {hi:g} arcsec (a runaway Petrosian radius)"
        reasons[r90 < lo] = f"petroR90_r below {lo:g} arcsec (smaller than the seeing)"
        reasons[r90 <= 0] = "petroR90_r not positive (a missing measurement)"
    reasons[~np.isfinite(r90)] = "petroR90_r missing"
    bad = reasons != ""
    reasons[bad] = [f"{why}: {v:g}" for why, v in zip(reasons[bad], r90[bad])]
    framed = catalog.loc[~bad].assign(scale=framing_scale(r90[~bad], size, factor))
    return framed.reset_index(drop=True), _unframed(catalog["objID"].to_numpy()[bad], reasons[bad])


def _unframed(objids, reasons) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "objID": np.asarray(objids, dtype=np.int64),
            "status": pd.Series([UNFRAMED] * len(objids), dtype="string"),
            "reason": pd.Series(list(reasons), dtype="string"),
        }
    )


def shard_of(objids, n_shards: int) -> np.ndarray:
    return np.asarray(objids, dtype=np.int64) % int(n_shards)


def shard_dir(root: str | Path, shard: int) -> Path:
    return Path(root) / paths.SHARD_DIR.format(shard=paths.shard_id(shard))


def manifest_path(root: str | Path, shard: int) -> Path:
    return Path(root) / paths.SHARD_MANIFEST.format(shard=paths.shard_id(shard))


def cutout_path(root: str | Path, shard: int, objid: int) -> Path:
    return shard_dir(root, shard) / f"{int(objid)}.jpg"


def open_shard(root: str | Path, shard: int, settings: dict) -> Path:
    """The shard's folder, emptied of cutouts made with other ``settings``.

    A rerun keeps the files on disk, so they are reused only when they were made
    with the same image settings (size, scale, data release, render seed, ...),
    which ``settings.json`` in the folder records.
    """
    folder = shard_dir(root, shard)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "settings.json"
    wanted = json.dumps(settings, sort_keys=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        stale = list(folder.glob("*.jpg"))
        if stale:
            log.warning(
                "shard %03d: removing %d cutouts made with other settings than %s",
                shard,
                len(stale),
                wanted,
            )
            for path in stale:
                path.unlink()
        storage.write_text(stamp, wanted)
    return folder


def shard_members(catalog: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """The catalogue rows whose cutouts belong to ``shard``."""
    return catalog.loc[shard_of(catalog["objID"], n_shards) == shard].reset_index(drop=True)


def check_jpeg(data: bytes, size: int) -> tuple[str, str]:
    """Classify a response body as (status, reason): ``ok``, ``blank`` or ``failed``.

    Catches what a web service returns instead of an image: HTML or text error
    pages, truncated bodies, images of the wrong size, and blank cutouts: partly or
    wholly off the imaging footprint, or with no source at the centre.
    """
    status, reason, _ = read_jpeg(data, size)
    return status, reason


def read_jpeg(data: bytes, size: int) -> tuple[str, str, np.ndarray | None]:
    """:func:`check_jpeg`'s (status, reason) and the decoded RGB pixels (None when undecodable),
    so a reader that keeps the pixels decodes the JPEG once."""
    if not data:
        return FAILED, "empty body", None
    if not data.startswith(b"\xff\xd8"):
        head = data[:64].lstrip().lower()
        kind = (
            "HTML page"
            if head.startswith((b"<!doctype", b"<html")) or b"<html" in data[:512].lower()
            else "not a JPEG"
        )
        return FAILED, f"{kind} ({len(data)} bytes) instead of a JPEG", None
    try:
        with Image.open(io.BytesIO(data)) as img:
            # Image.open reads only the header: a wrong (or huge) size is refused before decoding.
            if img.size != (size, size):
                return (
                    FAILED,
                    f"image is {img.size[0]}x{img.size[1]} px, expected {size}x{size}",
                    None,
                )
            img.load()
            pixels = np.asarray(img.convert("RGB"))
    except Image.DecompressionBombError as exc:
        return FAILED, f"image too large to decode: {exc}", None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return FAILED, f"undecodable JPEG: {exc}", None
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return FAILED, "truncated JPEG (no end-of-image marker)", pixels
    return (*_blank_reason(pixels), pixels)


def _blank_reason(pixels: np.ndarray) -> tuple[str, str]:
    """(``blank``, what was seen) for a zero-valued region or an empty centre, else (``ok``, "")."""
    zero = zero_valued_share(pixels)
    if zero >= ZERO_AREA:
        return BLANK, f"{zero:.0%} of the image is zero-valued (off the imaging footprint)"
    centre, border = centre_and_border(pixels)
    if centre - border <= CENTRE_MARGIN:
        return (
            BLANK,
            f"no source at the centre (median grey level {centre:.1f} at the centre, {border:.1f} on the border)",
        )
    return OK, ""


def zero_valued_share(pixels: np.ndarray) -> float:
    """Share of the image in zero-valued areas: black pixels within squares of :data:`ZERO_WINDOW`
    px that are black throughout."""
    black = brightest_channel(pixels) <= ZERO_LEVEL
    # Squares reaching past the image's edge are padded with non-black, so they never count.
    whole = (
        uniform_filter(black.astype(np.float32), ZERO_WINDOW, mode="constant")
        > 1 - 0.5 / ZERO_WINDOW**2
    )
    if not whole.any():
        return 0.0
    # Every pixel of a whole square: a box dilation. The separable maximum filter (origin -1 puts the
    # even square where binary_dilation's structuring element puts it) takes 0.1 ms, binary_dilation 30.
    return float(
        (maximum_filter(whole, ZERO_WINDOW, mode="constant", cval=False, origin=-1) & black).mean()
    )


def brightest_channel(pixels: np.ndarray) -> np.ndarray:
    """The largest of the three channels per pixel (the same as ``max(axis=2)``, 10x faster)."""
    return np.maximum(np.maximum(pixels[..., 0], pixels[..., 1]), pixels[..., 2])


def border_rows(pixels: np.ndarray) -> np.ndarray:
    """The top and bottom rows of a cutout that stand for its sky (:data:`BORDER_ROWS`)."""
    n = max(1, round(BORDER_ROWS * pixels.shape[0]))
    return np.concatenate([pixels[:n], pixels[-n:]])


def centre_and_border(pixels: np.ndarray) -> tuple[float, float]:
    """Median grey level (mean of the channels) in the central disc and in the border rows."""
    # The channels' mean, channel by channel: a reduction over the short last axis is 10x slower.
    grey = (pixels[..., 0].astype(np.float32) + pixels[..., 1] + pixels[..., 2]) / np.float32(3)
    h, w = grey.shape
    y, x = np.ogrid[:h, :w]
    radius = max(1.0, CENTRE_RADIUS * h)
    disc = (y - (h - 1) / 2) ** 2 + (x - (w - 1) / 2) ** 2 <= radius**2
    return float(np.median(grey[disc])), float(np.median(border_rows(grey)))


def sky_statistics(pixels: np.ndarray) -> dict[str, float]:
    """How a cutout's sky looks, the numbers that compare mock and real cutouts.

    ``border_mean`` and ``border_std`` over every channel of the border rows, ``median_max``
    the median over pixels of the brightest channel, ``black`` the share of pixels whose
    brightest channel is ≤ :data:`ZERO_LEVEL`.
    """
    border = border_rows(pixels).astype(np.float64)
    brightest = brightest_channel(pixels)
    return {
        "border_mean": float(border.mean()),
        "border_std": float(border.std()),
        "median_max": float(np.median(brightest)),
        "black": float((brightest <= ZERO_LEVEL).mean()),
    }


def check_file(path: Path, size: int) -> tuple[str, str]:
    status, reason, _ = read_file(path, size)
    return status, reason


def read_file(path: Path, size: int) -> tuple[str, str, np.ndarray | None]:
    """:func:`read_jpeg` of the file at ``path`` (``failed`` when it is missing)."""
    if not path.exists():
        return FAILED, "missing file", None
    return read_jpeg(path.read_bytes(), size)


def write_manifest(path: str | Path, records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=list(MANIFEST_COLUMNS))
    frame = frame.astype(
        {"objID": "int64", "status": "string", "reason": "string", "path": "string"}
    )
    storage.write_parquet(path, frame)
    return frame


def read_manifests(paths) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in paths]
    if not frames:
        return pd.DataFrame(columns=list(MANIFEST_COLUMNS))
    return pd.concat(frames, ignore_index=True)

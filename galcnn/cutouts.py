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

from galcnn import io as gio

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("objID", "status", "reason", "path")
OK, BLANK, FAILED = "ok", "blank", "failed"

#: A SkyServer cutout off the imaging footprint is (nearly) black; we call a
#: cutout blank when more than this fraction of its pixels is ≤ BLANK_LEVEL.
BLANK_FRACTION = 0.5
BLANK_LEVEL = 3


def shard_of(objids, n_shards: int) -> np.ndarray:
    return np.asarray(objids, dtype=np.int64) % int(n_shards)


def shard_dir(root: str | Path, shard: int) -> Path:
    return Path(root) / f"shard{shard:03d}"


def manifest_path(root: str | Path, shard: int) -> Path:
    return Path(root) / f"shard{shard:03d}.manifest.parquet"


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
            log.warning("shard %03d: removing %d cutouts made with other settings than %s", shard, len(stale), wanted)
            for path in stale:
                path.unlink()
        gio.write_text(stamp, wanted)
    return folder


def shard_members(catalog: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """The catalogue rows whose cutouts belong to ``shard``."""
    return catalog.loc[shard_of(catalog["objID"], n_shards) == shard].reset_index(drop=True)


def check_jpeg(data: bytes, size: int) -> tuple[str, str]:
    """Classify a response body as (status, reason): ``ok``, ``blank`` or ``failed``.

    Catches what a web service returns instead of an image: HTML or text error
    pages, truncated bodies, images of the wrong size, and blank (off-footprint)
    cutouts.
    """
    if not data:
        return FAILED, "empty body"
    if not data.startswith(b"\xff\xd8"):
        head = data[:64].lstrip().lower()
        kind = "HTML page" if head.startswith((b"<!doctype", b"<html")) or b"<html" in data[:512].lower() else "not a JPEG"
        return FAILED, f"{kind} ({len(data)} bytes) instead of a JPEG"
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            pixels = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return FAILED, f"undecodable JPEG: {exc}"
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return FAILED, "truncated JPEG (no end-of-image marker)"
    if pixels.shape[:2] != (size, size):
        return FAILED, f"image is {pixels.shape[1]}x{pixels.shape[0]} px, expected {size}x{size}"
    dark = (pixels.max(axis=2) <= BLANK_LEVEL).mean()
    if dark > BLANK_FRACTION:
        return BLANK, f"{dark:.0%} of pixels blank (off the imaging footprint?)"
    return OK, ""


def check_file(path: Path, size: int) -> tuple[str, str]:
    if not path.exists():
        return FAILED, "missing file"
    return check_jpeg(path.read_bytes(), size)


def write_manifest(path: str | Path, records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=list(MANIFEST_COLUMNS))
    frame = frame.astype({"objID": "int64", "status": "string", "reason": "string", "path": "string"})
    gio.write_parquet(path, frame)
    return frame


def read_manifests(paths) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in paths]
    if not frames:
        return pd.DataFrame(columns=list(MANIFEST_COLUMNS))
    return pd.concat(frames, ignore_index=True)

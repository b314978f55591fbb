"""Packed image arrays: JPEG cutouts decoded once into uint8 arrays, one per resolution.

``results/images/128px.npy`` holds every usable cutout (N × 128 × 128 × 3, RGB =
i, r, g); row ``i`` is the galaxy in row ``i`` of ``index.parquet``. Lower
resolutions are area averages of it, so the 1 px image is the mean colour. The
arrays are read memory-mapped by training, never re-decoded from JPEG.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from galcnn import cutouts
from galcnn import io as gio

log = logging.getLogger(__name__)

INDEX_COLUMNS = ("objID", "row")
#: Rows per block when streaming a large array through memory.
BLOCK = 4096


def load_images(path: str | Path) -> np.ndarray:
    """The packed array, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")


def pack_cutouts(
    catalog: pd.DataFrame,
    manifests: pd.DataFrame,
    cutout_root: str | Path,
    n_shards: int,
    size: int,
    out_images: str | Path,
    out_index: str | Path,
    out_excluded: str | Path,
    threads: int = 1,
) -> pd.DataFrame:
    """Decode every ``ok`` cutout of the catalogue into one uint8 array.

    Galaxies whose cutout is blank, failed, missing from the manifests or
    unreadable now are excluded, listed with the reason in ``out_excluded``
    and counted in the log. Returns the index (objID → row).
    """
    status = manifests.drop_duplicates("objID", keep="last").set_index("objID")
    objids = catalog["objID"].to_numpy(np.int64)
    shards = cutouts.shard_of(objids, n_shards)
    excluded: list[dict] = []
    candidates = []
    for objid, shard in zip(objids, shards):
        if objid not in status.index:
            excluded.append({"objID": objid, "status": "missing", "reason": "not in any cutout manifest"})
        elif status.at[objid, "status"] != cutouts.OK:
            excluded.append({"objID": objid, "status": status.at[objid, "status"], "reason": status.at[objid, "reason"]})
        else:
            candidates.append((objid, cutouts.cutout_path(cutout_root, shard, objid)))

    def decode(item):
        objid, path = item
        state, reason = cutouts.check_file(path, size)
        if state != cutouts.OK:
            return objid, None, state, reason
        with Image.open(path) as img:
            return objid, np.asarray(img.convert("RGB"), dtype=np.uint8), state, reason

    with gio.atomic_path(out_images) as tmp:
        array = gio.open_memmap(tmp, np.uint8, (len(candidates), size, size, 3))
        kept: list[int] = []
        with ThreadPoolExecutor(max(1, threads)) as pool:
            results = pool.map(decode, candidates)
            for objid, pixels, state, reason in tqdm(results, total=len(candidates), desc="packing cutouts", unit="img"):
                if pixels is None:
                    excluded.append({"objID": objid, "status": state, "reason": f"at packing: {reason}"})
                    continue
                array[len(kept)] = pixels
                kept.append(objid)
        array.flush()
        del array
        if len(kept) < len(candidates):
            _truncate_rows(tmp, len(kept))

    index = pd.DataFrame({"objID": np.asarray(kept, dtype=np.int64), "row": np.arange(len(kept), dtype=np.int64)})
    gio.write_parquet(out_index, index)
    excluded_frame = pd.DataFrame.from_records(excluded, columns=["objID", "status", "reason"]).astype(
        {"objID": "int64", "status": "string", "reason": "string"}
    )
    gio.write_parquet(out_excluded, excluded_frame)
    by_status = excluded_frame["status"].value_counts().to_dict()
    log.info("packed %d of %d catalogue galaxies; excluded %d %s", len(kept), len(objids), len(excluded_frame), by_status)
    if not kept:
        raise ValueError(f"no usable cutouts among {len(objids)} galaxies; see {out_excluded} for the reasons")
    return index


def _truncate_rows(path: Path, n_rows: int) -> None:
    """Rewrite an .npy file keeping its first ``n_rows`` rows (cutouts unreadable at packing time)."""
    full = np.load(path, mmap_mode="r")
    with gio.atomic_path(path) as trimmed:
        out = gio.open_memmap(trimmed, full.dtype, (n_rows, *full.shape[1:]))
        for start in range(0, n_rows, BLOCK):
            stop = min(start + BLOCK, n_rows)
            out[start:stop] = full[start:stop]
        out.flush()
        del out, full


def area_average(images: np.ndarray, res: int) -> np.ndarray:
    """Downsample N × S × S × C images to N × res × res × C by averaging S/res × S/res blocks."""
    n, size, size2, channels = images.shape
    if size != size2 or size % res:
        raise ValueError(f"resolution {res} px does not divide the {size}x{size2} px cutouts; choose a divisor of {size}")
    f = size // res
    blocks = images.reshape(n, res, f, res, f, channels).astype(np.float32)
    return np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)


def downsample_file(src: str | Path, dst: str | Path, res: int) -> None:
    """Area-average the packed native array to ``res`` px, streaming it block by block."""
    full = load_images(src)
    with gio.atomic_path(dst) as tmp:
        out = gio.open_memmap(tmp, np.uint8, (len(full), res, res, full.shape[-1]))
        for start in tqdm(range(0, len(full), BLOCK), desc=f"downsampling to {res} px", unit="block"):
            out[start : start + BLOCK] = area_average(np.asarray(full[start : start + BLOCK]), res)
        out.flush()
        del out
    log.info("wrote %d images at %d px to %s", len(full), res, dst)

"""Cutouts the user already holds (``survey: local``, ``apply.images``): a catalogue and
folders of ``<objID>.jpg|.jpeg|.png`` images in, the cutout store of :mod:`galcnn.cutouts` out.

Each image is checked (readable, RGB, square, at least the largest configured resolution),
area-averaged to ``cutouts.size`` when its size differs, and then goes through the same
validation and blank rule as a downloaded cutout (:func:`galcnn.cutouts.read_jpeg`) into the
same shard store, with the same manifest; packing, splits, training and prediction do not
know where the images came from. Catalogue rows without an image, and images without a
catalogue row, are listed in the manifests (and so in ``results/images/excluded.parquet``)
with the reason.

:func:`skipped_stages` says, from the catalogue's header alone, which stages the workflow
leaves out because the catalogue lacks their inputs (magnitudes for the random forest,
stellar mass for the mass-metallicity relation).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from galcnn import cutouts, storage
from galcnn.catalog import MAGNITUDE_COLUMNS, MASS, METALLICITY, check_catalog, load_table

log = logging.getLogger(__name__)

#: Image files the stage reads, by suffix (any case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Columns a local catalogue may give besides objID and the targets; checked when present.
#: Position and magnitudes feed the apply stage's domain flags and the random forest.
OPTIONAL_COLUMNS = (
    "ra",
    "dec",
    *MAGNITUDE_COLUMNS,
    *(c.replace("modelMag_", "modelMagErr_") for c in MAGNITUDE_COLUMNS),
)
#: Re-encoded images (PNGs, resampled ones) are stored at this JPEG quality, without chroma
#: subsampling: a JPEG of the right size is stored byte for byte, never re-encoded.
JPEG_QUALITY = 95
#: A manifest status of the local store only: an image whose objID is in no catalogue row.
UNCATALOGUED = "uncatalogued"
CATALOG_HINT = (
    "set local.catalog to a .csv or .parquet file (or a list of them) with objID and the targets"
)


def as_list(value) -> list[str]:
    """A config value that is one path or a list of paths, as a list (empty entries dropped)."""
    values = [value] if isinstance(value, str) else list(value or [])
    return [str(v) for v in values if str(v)]


def catalog_columns(paths) -> list[str]:
    """The columns of the catalogue file(s), read from the header alone (every file must exist)."""
    columns: list[str] = []
    for path in map(Path, as_list(paths)):
        if not path.is_file():
            raise FileNotFoundError(
                f"local catalogue {path} (config local.catalog) does not exist; {CATALOG_HINT}"
            )
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            names = pq.read_schema(path).names
        elif suffix == ".csv":
            names = list(pd.read_csv(path, nrows=0).columns)
        else:
            names = list(load_table(path, "local catalogue", CATALOG_HINT).columns)
        columns += [c for c in names if c not in columns]
    return columns


def skipped_stages(config: dict) -> dict[str, str]:
    """{stage: one line saying why it is left out} for ``survey: local`` ({} otherwise).

    The local catalogue need hold only objID and the targets: without g, r, i magnitudes there
    is no random-forest baseline, without stellar mass no mass-metallicity relation (MMR table,
    fig_mmr, fig4). Raises for a missing catalogue file or images folder, or a catalogue
    without a configured target, before any job starts.
    """
    if config["survey"] != "local":
        return {}
    local = config["local"]
    if not as_list(local["catalog"]) or not as_list(local["images"]):
        raise ValueError(
            "survey: local needs local.catalog (a .csv or .parquet file, or a list of them, with objID and "
            "the targets) and local.images (a folder, or a list of folders, of <objID>.jpg|.jpeg|.png); "
            "see config/local.yaml"
        )
    image_folders(local["images"])
    columns = catalog_columns(local["catalog"])
    missing = [c for c in ("objID", *config["targets"]) if c not in columns]
    if missing:
        raise ValueError(
            f"local catalogue {as_list(local['catalog'])} lacks column(s) {missing} (it has {columns}); "
            "it needs objID and every configured target (config targets)"
        )
    skipped = {}
    lacking = [c for c in MAGNITUDE_COLUMNS if c not in columns]
    if lacking:
        skipped["baselines_rf"] = (
            f"survey local: no random-forest baseline (rule baselines_rf): the catalogue has no {', '.join(lacking)}"
        )
    if METALLICITY in config["targets"] and MASS not in columns:
        skipped["mmr"] = (
            f"survey local: no mass-metallicity relation (rule analysis_mmr, fig_mmr, fig4_mass): "
            f"the catalogue has no stellar mass ({MASS})"
        )
    return skipped


def read_catalog(paths, targets) -> pd.DataFrame:
    """The local catalogue, from one file or several (their rows together), checked by
    :func:`galcnn.catalog.check_catalog`: objID and ``targets`` required, the
    :data:`OPTIONAL_COLUMNS` checked when present (magnitudes must not be −9999, since the
    random forest uses them as they are), other columns carried. Rows are counted over the
    files in the order given."""
    files = as_list(paths)
    if not files:
        raise ValueError(f"no local catalogue given; {CATALOG_HINT}")
    frames = [load_table(Path(p), "local catalogue", CATALOG_HINT) for p in files]
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise ValueError(f"local catalogue {files} has no rows; it needs one row per galaxy")
    try:
        return check_catalog(
            frame,
            required=("objID", *targets),
            optional=OPTIONAL_COLUMNS,
            carry=True,
            no_sentinel=("ra", "dec", *MAGNITUDE_COLUMNS),
        )
    except ValueError as exc:
        raise ValueError(f"local catalogue {files}: {exc}") from exc


def image_folders(folders) -> list[Path]:
    """The images folder(s), each checked to exist."""
    out = [Path(f) for f in as_list(folders)]
    if not out:
        raise ValueError(
            "no images folder given: set local.images (or apply.images) to a folder of <objID>.jpg|.jpeg|.png"
        )
    for folder in out:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"images folder {folder} does not exist or is not a folder; "
                "give a folder (or a list of folders) of <objID>.jpg|.jpeg|.png files"
            )
    return out


def find_images(folders) -> dict[int, list[Path]]:
    """objID → the image files named ``<objID>.<jpg|jpeg|png>`` in ``folders`` (not their subfolders).

    Files of other suffixes are not images of the stage; image files whose name is not an
    integer objID cannot be matched to a galaxy and are logged (not listed: they have no objID).
    """
    found: dict[int, list[Path]] = {}
    unnamed = []
    for folder in image_folders(folders):
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                if not entry.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    objid = int(path.stem)
                except ValueError:
                    unnamed.append(path)
                    continue
                found.setdefault(objid, []).append(path)
    if unnamed:
        log.warning(
            "%d image file(s) not named <objID>.jpg|.jpeg|.png are ignored, e.g. %s",
            len(unnamed),
            [str(p) for p in unnamed[:5]],
        )
    return found


def prepare_image(data: bytes, size: int, min_size: int) -> tuple[str, str, bytes | None]:
    """(status, reason, JPEG bytes for the store) of one image file's content.

    ``failed`` (no bytes) when it is unreadable, not RGB, not square or smaller than
    ``min_size`` (the largest configured resolution). Otherwise it is area-averaged
    (PIL's box filter: the mean over each output pixel's footprint; exact block means when
    the sizes divide) to ``size`` px when its size differs, encoded as JPEG unless it already
    is one of that size, and classified like a downloaded cutout (:func:`galcnn.cutouts.read_jpeg`:
    ``ok``, or ``blank`` with the blank rule's reason).
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            # The header alone gives the size and mode: a bad image is refused before decoding.
            width, height, mode, fmt = *img.size, img.mode, img.format
            if mode != "RGB":
                return cutouts.FAILED, f"{mode} image; expected RGB (a three-colour image)", None
            if width != height:
                return cutouts.FAILED, f"image is {width}x{height} px, not square", None
            if width < min_size:
                return (
                    cutouts.FAILED,
                    f"image is {width}x{height} px, smaller than the largest resolution ({min_size} px)",
                    None,
                )
            if fmt == "JPEG" and width == size:
                img.load()
                out = data
            else:
                if width != size:
                    img = img.resize((size, size), Image.Resampling.BOX)
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
                out = buf.getvalue()
    except Image.DecompressionBombError as exc:
        return cutouts.FAILED, f"image too large to decode: {exc}", None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return cutouts.FAILED, f"unreadable image: {exc}", None
    status, reason, _ = cutouts.read_jpeg(out, size)
    return status, reason, (out if status != cutouts.FAILED else None)


def import_shard(
    catalog: pd.DataFrame,
    folders,
    root: str | Path,
    shard: int,
    n_shards: int,
    size: int,
    min_size: int,
) -> pd.DataFrame:
    """Store the shard's images found in ``folders`` at ``root`` and write its manifest there;
    returns the manifest (the arguments of :func:`galcnn.mock.images.render_shard` in spirit).

    One record per catalogue row of the shard (``failed`` when it has no image, or several),
    and one of status ``uncatalogued`` per image of the shard's objIDs without a catalogue row.
    """
    if not 0 <= int(shard) < int(n_shards):
        raise ValueError(
            f"shard {shard} is outside 0..{int(n_shards) - 1}; check cutouts.shards in the config"
        )
    found = find_images(folders)
    members = cutouts.shard_members(catalog, int(shard), int(n_shards))
    cutouts.open_shard(
        root, int(shard), {"source": "local", "size": int(size), "min_size": int(min_size)}
    )
    names = "|".join(s[1:] for s in IMAGE_SUFFIXES)
    records = []
    for objid in members["objID"].to_numpy(np.int64):
        files = found.get(int(objid), [])
        path = cutouts.cutout_path(root, int(shard), objid)
        if len(files) == 1:
            status, reason, data = prepare_image(files[0].read_bytes(), size, min_size)
            reason = f"{files[0]}: {reason}" if reason else ""
        else:
            data = None
            status, reason = (
                cutouts.FAILED,
                (
                    f"no image {objid}.{names} in {[str(f) for f in image_folders(folders)]}"
                    if not files
                    else f"{len(files)} images of one galaxy ({', '.join(map(str, files))}); keep one"
                ),
            )
        if data is None:
            path.unlink(missing_ok=True)
        else:
            storage.write_bytes(path, data)
        records.append(
            {
                "objID": int(objid),
                "status": status,
                "reason": reason,
                "path": str(path) if data else "",
            }
        )
    catalogued = set(catalog["objID"].tolist())
    orphans = sorted(o for o in found if o not in catalogued)
    for objid in orphans:
        if cutouts.shard_of([objid], n_shards)[0] == shard:
            records.append(
                {
                    "objID": objid,
                    "status": UNCATALOGUED,
                    "reason": f"{found[objid][0]}: objID not in the catalogue",
                    "path": "",
                }
            )
    manifest = cutouts.write_manifest(cutouts.manifest_path(root, int(shard)), records)
    log.info(
        "shard %03d: %d catalogue galaxies; status %s",
        int(shard),
        len(members),
        manifest["status"].value_counts().to_dict(),
    )
    return manifest


def apply_source(config: dict) -> str:
    """Where the apply stage's cutouts come from: ``images`` (the user's folders,
    ``apply.images``), else the survey's own (``mock`` renders, ``sdss`` downloads).
    A local survey has no sky to cut out, so its apply catalogue needs ``apply.images``."""
    apply = config["apply"]
    if as_list(apply.get("images")):
        return "images"
    if config["survey"] == "local" and apply["catalog"]:
        raise ValueError(
            "survey: local has no sky to cut new galaxies' images from: set apply.images to the folder "
            "(or folders) of their <objID>.jpg|.jpeg|.png images"
        )
    return config["survey"]

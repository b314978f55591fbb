"""The trained CNNs applied to new galaxies: a catalogue in, predictions with uncertainties out.

:func:`read_catalog` checks the user's catalogue (``ra``/``dec`` in degrees, an
optional integer ``objID``; any other column is carried through) and refuses it
whole, naming the file, column and rows, when it is unusable. Its galaxies then
go through the cutout stage like the training galaxies: downloaded from
SkyServer, or, for the mock survey, rendered by :mod:`galcnn.mock.images` from
:func:`mock_truth`. :func:`assemble` joins the catalogue, the cutouts' status and
each target's predictions (from the exported models, :mod:`galcnn.cnn.portable`) into
one table with a status and domain flags per galaxy.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import zlib
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from galcnn import cutouts
from galcnn.catalog import describe_rows as _rows
from galcnn.catalog import load_table
from galcnn.mock.catalog import simulate_catalog
from galcnn.names import safe_name

log = logging.getLogger(__name__)

#: Columns the stage adds besides those per target; a catalogue may not hold them.
STATUS_COLUMNS = ("status", "reason", "flags")
#: Per target: prediction, calibrated σ, raw spread, number of model × transform predictions.
TARGET_SUFFIXES = ("pred", "sigma", "sigma_raw", "n_models")
#: Catalogue columns checked against the training sample's range when the catalogue gives them.
DOMAIN_COLUMNS = ("z", "petroMag_r", "modelMag_g", "modelMag_r", "modelMag_i")
#: The largest objID (SDSS ids are positive 64-bit integers) and the largest integer a float holds exactly.
MAX_OBJID = 2**63 - 1
EXACT_FLOAT = 2**53
#: What makes a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def target_columns(target: str) -> list[str]:
    return [f"{target}_{s}" for s in TARGET_SUFFIXES]


def results_name(catalog: str, name: str) -> str:
    """The label of an apply run (results/apply/<label>...): ``name``, else the catalogue's
    file name without its suffix; a plain name either way (:func:`galcnn.names.safe_name`),
    so neither ``apply.name: ..`` nor a catalogue called ``...csv`` can write over results/.
    Empty while the stage is off (no catalogue, no name)."""
    if name:
        return safe_name(name, "config apply.name")
    if not catalog:
        return ""
    return safe_name(
        Path(catalog).stem,
        f"the name of apply.catalog {catalog!r} without its suffix (apply.name is empty)",
    )


def stable_ids(ra, dec) -> np.ndarray:
    """objIDs for a catalogue without them: a 62-bit hash of the position to 1e-6 deg
    (3.6 mas), so the same galaxy gets the same id in any catalogue or row order."""
    out = np.empty(len(ra), dtype=np.int64)
    for i, (a, d) in enumerate(zip(ra, dec)):
        digest = hashlib.blake2b(f"{a:.6f},{d:.6f}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") >> 2
    return out


def _column_names(path: Path, cat: pd.DataFrame) -> list[str]:
    """The file's column names as written: pandas renames a CSV's repeated 'ra' to 'ra.1'."""
    if path.suffix.lower() != ".csv":
        return [str(c) for c in cat.columns]
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        return next(csv.reader(fh), [])


def parse_objids(values: pd.Series, path) -> np.ndarray:
    """objIDs as int64, exactly: each a whole number in [0, 2^63).

    A CSV's ids are read as text (:func:`galcnn.catalog.load_table` with ``text_ids``), so
    ``1237648720693755918.0`` is read exactly; ``1e30``, 20 digits and negative ids are refused
    rather than wrapped to -2^63 or passed to the mock renderer; a float column (Parquet) is
    refused above 2^53, where a float no longer holds every integer and the id may already have
    changed.
    """
    ids = np.zeros(len(values), np.int64)
    problems = {"missing or not an integer": [], "negative or not below 2^63": [], "inexact": []}
    for i, value in enumerate(values):
        if isinstance(value, (float, np.floating)):
            if not (math.isfinite(value) and float(value).is_integer()):
                problems["missing or not an integer"].append(i)
                continue
            if abs(value) >= EXACT_FLOAT:
                problems["inexact"].append(i)
                continue
            number = int(value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            number = int(value)
        else:
            try:
                parsed = Decimal(str(value).strip())
                number = int(parsed) if parsed.is_finite() and parsed == int(parsed) else None
            except (InvalidOperation, ValueError):
                number = None
            if number is None:
                problems["missing or not an integer"].append(i)
                continue
        if not 0 <= number <= MAX_OBJID:
            problems["negative or not below 2^63"].append(i)
            continue
        ids[i] = number
    for what, rows in problems.items():
        if not rows:
            continue
        mask = np.zeros(len(values), bool)
        mask[rows] = True
        example = values.iloc[rows[0]]
        if what == "inexact":
            raise ValueError(
                f"apply catalogue {path}: column 'objID' holds floating-point ids above 2^53 in "
                f"{_rows(mask)}, e.g. {example!r}: a float cannot hold them exactly, so they may "
                "have changed already; store objID as 64-bit integers"
            )
        raise ValueError(
            f"apply catalogue {path}: column 'objID' is {what} in {_rows(mask)}, e.g. {example!r}; "
            "give whole numbers from 0 to 2^63-1 (SDSS objIDs) or drop the column"
        )
    return ids


def read_catalog(
    path: str | Path, targets=(), positions: bool = True, needs_size: bool = False
) -> pd.DataFrame:
    """The checked catalogue: objID (made by :func:`stable_ids` when absent) first, then
    the file's columns. Raises, naming the file and the offending column and rows, for a
    missing, unreadable or empty file, missing ``ra``/``dec``, non-numeric, NaN or
    out-of-range coordinates (ra in [0, 360), dec in [-90, 90]), and missing,
    non-integer or duplicated objIDs. With ``positions`` False (the cutouts are the
    user's images, ``apply.images``) ``objID`` is required instead and ``ra``/``dec``
    are optional, checked when given. With ``needs_size`` (cutouts framed per galaxy,
    ``cutouts.framing: petrosian``, on the real sky) a missing ``petroR90_r`` column too."""
    path = Path(path)
    cat = load_table(path, text_ids=True)
    need = ("ra", "dec") if positions else ("objID",)
    if cat.empty:
        raise ValueError(
            f"apply catalogue {path} has no rows; it needs one row per galaxy with {' and '.join(need)}"
        )
    missing = [c for c in need if c not in cat.columns]
    if missing:
        raise ValueError(
            f"apply catalogue {path} lacks column(s) {missing} (it has {list(cat.columns)}); "
            + (
                "give ra and dec in degrees"
                if positions
                else "give each galaxy's objID, the name of its image <objID>.jpg|.jpeg|.png"
            )
        )
    if needs_size and "petroR90_r" not in cat.columns:
        raise ValueError(
            f"apply catalogue {path} lacks column 'petroR90_r': the models were trained on cutouts framed by "
            "each galaxy's SDSS r-band petroR90 in arcsec (cutouts.framing: petrosian), so new galaxies need it "
            "too (PhotoObj.petroR90_r); galaxies where it is missing or unusable get no cutout"
        )
    names = _column_names(path, cat)
    repeated = sorted({c for c in names if [n.strip() for n in names].count(c.strip()) > 1})
    if repeated:
        raise ValueError(
            f"apply catalogue {path} has column(s) {repeated} more than once (spaces around "
            "a name do not count); keep one of each"
        )
    # Compared without surrounding spaces: 'status ' beside the results' 'status' reads as the same.
    reserved = [
        c
        for c in cat.columns
        if c.strip() in STATUS_COLUMNS or any(c.strip() in target_columns(t) for t in targets)
    ]
    if reserved:
        raise ValueError(
            f"apply catalogue {path} has column(s) {reserved}, which the results use; rename them"
        )
    for col, lo, hi, hi_open in (("ra", 0.0, 360.0, True), ("dec", -90.0, 90.0, False)):
        if col not in cat.columns:
            continue
        values = pd.to_numeric(cat[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"apply catalogue {path}: column {col!r} is missing or not a number in {_rows(bad)}; fix or remove them"
            )
        bad = (values < lo) | ((values >= hi) if hi_open else (values > hi))
        if bad.any():
            raise ValueError(
                f"apply catalogue {path}: column {col!r} is outside [{lo:g}, "
                f"{hi:g}{')' if hi_open else ']'} degrees in {_rows(bad)}, "
                f"e.g. {values[bad][0]!r}; give {col} in degrees"
            )
        cat[col] = values
    had_ids = "objID" in cat.columns
    if had_ids:
        cat["objID"] = parse_objids(cat["objID"], path)
    else:
        cat.insert(0, "objID", stable_ids(cat["ra"], cat["dec"]))
    dup = cat["objID"].duplicated(keep=False).to_numpy()
    if dup.any():
        what = "objID" if had_ids else "position (ids are made from ra, dec)"
        raise ValueError(
            f"apply catalogue {path}: duplicated {what} in {_rows(dup)}, e.g. "
            f"objID {cat.loc[dup, 'objID'].iloc[0]}; keep one row per galaxy"
        )
    return cat[["objID", *[c for c in cat.columns if c != "objID"]]].reset_index(drop=True)


def mock_truth(catalog: pd.DataFrame, seed: int, cuts: dict) -> pd.DataFrame:
    """Mock galaxies for the catalogue's positions, so new mock positions render offline.

    The mock survey has no sky to cut out, so each position gets a fresh galaxy of the
    same simulated population (:func:`galcnn.mock.catalog.simulate_catalog`, through the
    same cuts), drawn with a seed made from the mock seed and the catalogue's objIDs and
    assigned in objID order: the same catalogue always gives the same galaxies, and they
    are not the training galaxies. Returns the truth table (renderer input) with the
    catalogue's objIDs and the mock galaxy's ``petroR90_r`` (its framing, see
    :func:`with_mock_sizes`); the simulated catalogue's other columns (z, magnitudes, ...)
    are not the catalogue's and are not carried.
    """
    ids = np.sort(catalog["objID"].to_numpy(np.int64))
    draw_seed = int(
        np.random.SeedSequence([int(seed), zlib.crc32(ids.tobytes())]).generate_state(1)[0]
    )
    # The cuts keep about a quarter of the drawn galaxies; draw more until enough pass.
    n_draw = 5 * len(ids) + 100
    while True:
        simulated, truth = simulate_catalog(n_draw, draw_seed, cuts)
        if len(truth) >= len(ids):
            break
        n_draw *= 2
    truth = truth.iloc[: len(ids)].reset_index(drop=True)
    truth["petroR90_r"] = simulated["petroR90_r"].to_numpy()[: len(ids)]
    truth["objID"] = ids
    return truth


def with_mock_sizes(catalog: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with each position's ``petroR90_r`` that of the mock galaxy rendered there
    (:func:`mock_truth`), which frames its cutout as the training galaxies' are framed; a
    ``petroR90_r`` of the catalogue's own is replaced (it is not the mock galaxy's size)."""
    sizes = truth.set_index("objID")["petroR90_r"]
    return catalog.assign(petroR90_r=sizes.reindex(catalog["objID"]).to_numpy())


def training_ranges(catalog: pd.DataFrame, splits: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """[min, max] of :data:`DOMAIN_COLUMNS` over the galaxies the models trained on
    (every non-test galaxy of the splits)."""
    train_ids = splits.loc[splits["split"] != "test", "objID"]
    sample = catalog.loc[catalog["objID"].isin(train_ids)]
    return {
        c: (float(sample[c].min()), float(sample[c].max()))
        for c in DOMAIN_COLUMNS
        if c in sample.columns
    }


def domain_flags(catalog: pd.DataFrame, ranges: dict[str, tuple[float, float]]) -> pd.Series:
    """Per galaxy, ';'-joined flags for catalogue values outside the training range
    (``<column>_below_training``/``<column>_above_training``); empty when none."""
    flags = pd.Series([[] for _ in range(len(catalog))], index=catalog.index)
    for col, (lo, hi) in ranges.items():
        if col not in catalog.columns:
            continue
        values = pd.to_numeric(catalog[col], errors="coerce")
        for mask, word in ((values < lo, "below"), (values > hi, "above")):
            for i in np.flatnonzero(mask.to_numpy()):
                flags.iloc[i].append(f"{col}_{word}_training")
    return flags


def cutout_status(
    catalog: pd.DataFrame, manifests: pd.DataFrame, index: pd.DataFrame, excluded: pd.DataFrame
) -> pd.DataFrame:
    """objID, status (ok/blank/failed) and reason of each catalogue galaxy's cutout."""
    out = pd.DataFrame(
        {
            "objID": catalog["objID"].to_numpy(np.int64),
            "status": cutouts.FAILED,
            "reason": "no cutout made",
        }
    )
    out = out.set_index("objID")
    last = manifests.drop_duplicates("objID", keep="last").set_index("objID")
    known = out.index.intersection(last.index)
    out.loc[known, ["status", "reason"]] = last.loc[known, ["status", "reason"]].to_numpy()
    ex = excluded.set_index("objID")
    known = out.index.intersection(ex.index)
    # Anything the packing refused (unreadable now, missing) is a failure with the packer's reason.
    out.loc[known, "reason"] = ex.loc[known, "reason"].to_numpy()
    out.loc[known, "status"] = [
        s if s in (cutouts.BLANK, cutouts.FAILED) else cutouts.FAILED
        for s in ex.loc[known, "status"]
    ]
    packed = out.index.isin(index["objID"])
    out.loc[packed, ["status", "reason"]] = [cutouts.OK, ""]
    return out.reset_index()


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """The table for a .csv: text cells starting with ``= + - @`` (or a tab or carriage return)
    get a leading ``'``, so a spreadsheet shows a catalogue's ``=HYPERLINK(...)`` as text
    rather than running it. Numbers are left as they are; the Parquet table keeps the raw text."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) else v
            )
    return out


def assemble(
    catalog: pd.DataFrame,
    status: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    ranges: dict[str, tuple[float, float]],
) -> pd.DataFrame:
    """The results table: the catalogue's columns, per target ``<target>_pred``,
    ``_sigma`` (calibrated), ``_sigma_raw`` and ``_n_models``, then status, reason and
    flags. ``predictions`` maps each target to a frame of objID and the per-target
    columns (without the prefix) for the galaxies with a usable cutout; the others get
    NaN and 0 models."""
    out = catalog.copy()
    st = status.set_index("objID").loc[out["objID"]]
    for target, frame in predictions.items():
        pred = frame.set_index("objID").reindex(out["objID"])
        for suffix in TARGET_SUFFIXES:
            values = pred[suffix].to_numpy()
            out[f"{target}_{suffix}"] = (
                np.nan_to_num(values, nan=0).astype(np.int64) if suffix == "n_models" else values
            )
    out["status"] = st["status"].to_numpy()
    out["reason"] = st["reason"].to_numpy()
    flags = domain_flags(out, ranges)
    blank = out["status"] == cutouts.BLANK
    for i in np.flatnonzero(blank.to_numpy()):
        flags.iloc[i].append("cutout_blank")
    out["flags"] = [";".join(f) for f in flags]
    return out

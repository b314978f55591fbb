"""The galaxy catalogue: its columns, the paper's quality cuts and the −9999 sentinel.

The cuts are data (:class:`Cut`), rendered both as the SQL ``WHERE`` clause sent
to SkyServer (:func:`sql_where`) and as a filter on a data frame
(:func:`apply_cuts`), so the mock survey and the real query pass through the
same selection (docs/paper.md, "Data"; the query is galcnn/sdss/query.sql).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: MPA-JHU marks a missing measurement with this value (docs/paper.md, "missing values").
SENTINEL = -9999.0

#: The catalogue columns a CNN can be trained on (config ``targets``; the schema's ``target``).
TARGETS = ("oh_p50", "lgm_tot_p50", "sfr_tot_p50", "oh_p16", "oh_p84")
#: The paper's metallicity, 12 + log(O/H), and log stellar mass (the MMR's axes, paper §5).
METALLICITY = "oh_p50"
MASS = "lgm_tot_p50"

BANDS = ("u", "g", "r", "i", "z")
#: The random forest's features (galcnn.baselines): the three bands of the colour JPEGs the CNN sees.
MAGNITUDE_COLUMNS = ("modelMag_g", "modelMag_r", "modelMag_i")

#: Output column → SQL expression, in the order of the paper's query (draft 002,
#: section 3), plus ``petroMag_r`` and ``rChi2`` which the query cuts on: they
#: are selected too so the cuts can be re-checked on the returned rows.
SQL_COLUMNS: dict[str, str] = {
    "objID": "G.objID",
    "specObjID": "GSI.specObjID",
    "ra": "G.ra",
    "dec": "G.dec",
    "z": "S.z",
    "zErr": "S.zErr",
    "velDisp": "S.velDisp",
    "velDispErr": "S.velDispErr",
    **{
        name: expr
        for b in BANDS
        for name, expr in (
            (f"modelMag_{b}", f"G.modelMag_{b}"),
            (f"modelMagErr_{b}", f"G.modelMagErr_{b}"),
        )
    },
    "petroMag_r": "G.petroMag_r",
    "petroR50_r": "G.petroR50_r",
    "petroR90_r": "G.petroR90_r",
    **{
        name: f"GSL.{name}"
        for line in ("nii_6584", "h_alpha", "oiii_5007", "h_beta", "h_delta")
        for name in (f"{line}_flux", f"{line}_flux_err")
    },
    "d4000": "GSX.d4000",
    "d4000_err": "GSX.d4000_err",
    "bptclass": "GSE.bptclass",
    "oh_p2p5": "GSE.oh_p2p5",
    "oh_p16": "GSE.oh_p16",
    "oh_p50": "GSE.oh_p50",
    "oh_p84": "GSE.oh_p84",
    "oh_p97p5": "GSE.oh_p97p5",
    "lgm_tot_p50": "GSE.lgm_tot_p50",
    "sfr_tot_p50": "GSE.sfr_tot_p50",
    "rChi2": "S.rChi2",
}

CATALOG_COLUMNS = tuple(SQL_COLUMNS)
INTEGER_COLUMNS = ("objID", "specObjID", "bptclass")
#: How many bad rows an error message lists.
SHOW_ROWS = 10


@dataclass(frozen=True)
class Cut:
    """``lo < column < hi`` (open bounds, as in the SQL); ``None`` leaves a side open."""

    column: str
    sql: str
    lo: float | None = None
    hi: float | None = None

    def __post_init__(self):
        # Checked here, not only by the schema: it cannot compare two bounds or refuse NaN.
        bounds = [self.lo, self.hi]
        if self.lo is None and self.hi is None:
            raise ValueError(
                f"cut on {self.column} is [null, null]: give at least one bound, or remove the cut"
            )
        if any(b is not None and not math.isfinite(float(b)) for b in bounds):
            raise ValueError(
                f"cut on {self.column} has bounds {bounds}; each must be a finite number or null"
            )
        if self.lo is not None and self.hi is not None and self.lo >= self.hi:
            raise ValueError(
                f"cut on {self.column} is [{self.lo}, {self.hi}]: the lower bound must be below the upper one"
            )

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        values = _column_values(frame, self.column)
        keep = pd.Series(True, index=frame.index)
        if self.lo is not None:
            keep &= values > self.lo
        if self.hi is not None:
            keep &= values < self.hi
        return keep

    def where(self) -> str:
        terms = []
        if self.lo is not None:
            terms.append(f"{self.sql} > {sql_number(self.lo)}")
        if self.hi is not None:
            terms.append(f"{self.sql} < {sql_number(self.hi)}")
        return "(" + " AND ".join(terms) + ")"


@dataclass(frozen=True)
class Measured:
    """``column != −9999``: the MPA-JHU value exists (the query's ``oh_p50 != -9999``)."""

    column: str
    sql: str

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return frame[self.column] != SENTINEL

    def where(self) -> str:
        return f"{self.sql} != {sql_number(SENTINEL)}"


def quality_cuts(cuts: dict) -> list[Cut | Measured]:
    """The paper's selection from the config's ``query.cuts`` mapping.

    Keys: ``petroMag_r``, ``u_minus_r``, ``modelMag`` (each of u, g, r, i, z),
    ``rChi2``, ``zErr``, ``z`` as ``[lo, hi]`` (``null`` for an open side) and
    ``measured``, the MPA-JHU columns that must not be −9999.
    """
    out: list[Cut | Measured] = [Cut("petroMag_r", "G.petroMag_r", *cuts["petroMag_r"])]
    out.append(Cut("u_minus_r", "(G.modelMag_u - G.modelMag_r)", *cuts["u_minus_r"]))
    out += [Cut(f"modelMag_{b}", f"G.modelMag_{b}", *cuts["modelMag"]) for b in BANDS]
    out += [Cut(c, SQL_COLUMNS[c], *cuts[c]) for c in ("rChi2", "zErr", "z")]
    out += [Measured(c, SQL_COLUMNS[c]) for c in cuts["measured"]]
    return out


def sql_where(cuts: list[Cut | Measured]) -> str:
    return "\n  AND ".join(c.where() for c in cuts)


def apply_cuts(frame: pd.DataFrame, cuts: list[Cut | Measured]) -> pd.DataFrame:
    """Rows passing every cut; logs how many each cut removed."""
    keep = pd.Series(True, index=frame.index)
    for cut in cuts:
        mask = cut.mask(frame)
        removed = int((keep & ~mask).sum())
        if removed:
            log.info("cut %s removed %d of %d rows", cut.where(), removed, int(keep.sum()))
        keep &= mask
    return frame.loc[keep].reset_index(drop=True)


def target_mask(frame: pd.DataFrame, target: str) -> pd.Series:
    """Rows with a measured, finite ``target`` (docs/paper.md: missing targets are dropped per target)."""
    values = frame[target]
    return (values != SENTINEL) & np.isfinite(values)


def describe_rows(mask) -> str:
    """Bad rows as a table file counts them: data rows from 0, header excluded."""
    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(i) for i in idx[:SHOW_ROWS])
    return f"{len(idx)} row(s) ({shown}{', ...' if len(idx) > SHOW_ROWS else ''}; data rows counted from 0)"


def load_table(
    path: Path,
    what: str = "apply catalogue",
    hint: str = "set apply.catalog to a .csv or .parquet file with ra and dec columns",
    text_ids: bool = False,
) -> pd.DataFrame:
    """A .csv or .parquet table (empty when the file has no rows); ``what`` and ``hint`` name
    the file and what to do in the errors for a missing, unknown or unreadable file. With
    ``text_ids`` a CSV's objIDs are read as text, to be parsed exactly (pandas would turn a
    20-digit or float-formatted id into a float)."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist; {hint}")
    csv_reader = partial(pd.read_csv, dtype={"objID": str}) if text_ids else pd.read_csv
    readers = {".csv": csv_reader, ".parquet": pd.read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"{what} {path}: unknown format {path.suffix!r}; give a .csv or .parquet file"
        )
    try:
        return reader(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # every reader error means the same to the user: not a readable table
        raise ValueError(f"{what} {path} cannot be read as {path.suffix[1:]}: {exc}") from exc


def check_catalog(
    frame: pd.DataFrame,
    required=CATALOG_COLUMNS,
    optional=(),
    carry: bool = False,
    no_sentinel=(),
) -> pd.DataFrame:
    """Type the catalogue and refuse what would corrupt later stages.

    ``required`` columns must be there, ``optional`` ones are checked when they are, and with
    ``carry`` any other column is kept unchecked after them (else dropped). Raises
    ``ValueError`` naming the column and the rows for missing columns, values that are not
    numbers (or, in :data:`INTEGER_COLUMNS`, not integers), NaN (where −9999, the MPA-JHU
    sentinel, marks a missing value), −9999 in the ``no_sentinel`` columns (measurements
    a stage uses as they are), and duplicate objIDs.
    """
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"catalogue lacks columns {missing} (it has {list(frame.columns)}); "
            f"it must have the columns {list(required)}"
        )
    checked = [*required, *[c for c in optional if c in frame.columns and c not in required]]
    others = [c for c in frame.columns if c not in checked] if carry else []
    frame = frame.loc[:, checked + others].copy()
    for col in checked:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if col in INTEGER_COLUMNS:
            bad |= values.notna() & (values % 1 != 0)
        if bad.any():
            kind = "an integer" if col in INTEGER_COLUMNS else "a number"
            raise ValueError(
                f"catalogue column {col!r} is not {kind} in {describe_rows(bad)}, "
                f"e.g. {frame.loc[bad, col].iloc[0]!r}"
            )
        nan = values.isna()
        if nan.any():
            raise ValueError(
                f"catalogue column {col!r} has NaN (empty) values in {describe_rows(nan)}; "
                f"missing values must be {SENTINEL:g} (MPA-JHU) or the rows removed"
            )
        frame[col] = values.astype("int64" if col in INTEGER_COLUMNS else "float64")
    for col in (c for c in no_sentinel if c in checked):
        sentinel = frame[col] == SENTINEL
        if sentinel.any():
            raise ValueError(
                f"catalogue column {col!r} is {SENTINEL:g} (not measured) in {describe_rows(sentinel)}; "
                "remove those rows or the column"
            )
    dup = frame["objID"].duplicated(keep=False)
    if dup.any():
        raise ValueError(
            f"catalogue has duplicate objIDs in {describe_rows(dup)}, "
            f"e.g. {frame.loc[dup, 'objID'].iloc[0]}; keep one row per galaxy"
        )
    return frame


def _column_values(frame: pd.DataFrame, column: str) -> pd.Series:
    if column == "u_minus_r":
        return frame["modelMag_u"] - frame["modelMag_r"]
    return frame[column]


def sql_number(x: float) -> str:
    """A finite number as SQL text; anything else is refused, never pasted."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cut bound {x!r} is not a finite number")
    return repr(int(x)) if x.is_integer() else repr(x)

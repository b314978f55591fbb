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


def check_catalog(frame: pd.DataFrame) -> pd.DataFrame:
    """Type the catalogue and refuse what would corrupt later stages.

    Raises ``ValueError`` naming the column for missing columns, duplicate
    objIDs, or NaN outside the MPA-JHU columns (where −9999, not NaN, marks a
    missing value).
    """
    missing = [c for c in CATALOG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"catalogue lacks columns {missing}; it must have the query's columns {list(CATALOG_COLUMNS)}"
        )
    frame = frame.loc[:, list(CATALOG_COLUMNS)].copy()
    for col in CATALOG_COLUMNS:
        if col in INTEGER_COLUMNS:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype("int64")
        else:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
    nan_cols = [c for c in CATALOG_COLUMNS if frame[c].isna().any()]
    if nan_cols:
        counts = {c: int(frame[c].isna().sum()) for c in nan_cols}
        raise ValueError(
            f"catalogue has NaN values in {counts}; missing values must be {SENTINEL:g} (MPA-JHU) or the rows removed"
        )
    dup = frame["objID"].duplicated()
    if dup.any():
        raise ValueError(
            f"catalogue has {int(dup.sum())} duplicate objIDs, e.g. {frame.loc[dup, 'objID'].iloc[0]}"
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

"""The mass–metallicity relation (MMR): Tremonti et al. (2004) and the scatter ratio.

The paper (§5) compares the scatter of metallicity at fixed stellar mass for
SDSS measurements and for CNN predictions: NMAD of Z in mass bins of 0.2 dex, the
ratio NMAD(CNN)/NMAD(SDSS) per bin, and its count-weighted mean and spread
(0.821 ± 0.077; 0.811 ± 0.057 with CNN masses). The authors' bins are centred on
8.5, 8.7, …, 11.3, and their sample is the test galaxies with log M* > 8.5 and
8.25 < Z_true < 9.15 (:func:`select_sample`); the config's ``mmr`` keys hold these.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from galcnn.catalog import MASS, target_mask
from galcnn.metrics import as_values, bin_edges, bin_index, scatter_nmad
from galcnn.storage import write_csv

log = logging.getLogger(__name__)

#: Stellar masses, log(M*/M☉), over which Tremonti et al. (2004) eq. 3 was fitted.
TREMONTI_RANGE = (8.5, 11.5)

#: Bins with fewer galaxies than this (in either sample) get no ratio by default: the NMAD
#: of a handful of points is noisy. The authors used every bin (config ``mmr.min_count: 1``);
#: a bin whose SDSS scatter is zero (one galaxy) never gets a ratio.
MIN_BIN_COUNT = 10

#: The sample selection and bin settings written beside the ratios in mmr.csv.
SETTING_COLUMNS = ("min_mass", "z_true_min", "z_true_max", "min_count")

#: The catalogue columns the MMR table and figure read (a results bundle carries only these).
CATALOG_COLUMNS = ("objID", MASS)


def tremonti_metallicity(log_mass, extrapolate: bool = False) -> np.ndarray:
    """12 + log(O/H) = −1.492 + 1.847 x − 0.08026 x² (Tremonti et al. 2004, eq. 3).

    Masses outside 8.5 < x < 11.5, where the fit has no data, raise a
    ``ValueError`` unless ``extrapolate`` is set; select with
    :func:`in_tremonti_range` first to keep only valid masses.
    """
    x = as_values(np.atleast_1d(log_mass), "log_mass")
    outside = ~in_tremonti_range(x)
    if outside.any() and not extrapolate:
        raise ValueError(
            f"{int(outside.sum())} of {x.size} masses lie outside the Tremonti et al. (2004) range "
            f"{TREMONTI_RANGE[0]} < log M* < {TREMONTI_RANGE[1]} (e.g. {x[outside][0]:.3f}); "
            "select them with in_tremonti_range() or pass extrapolate=True"
        )
    return -1.492 + 1.847 * x - 0.08026 * x**2


def in_tremonti_range(log_mass) -> np.ndarray:
    x = np.asarray(log_mass, dtype=float)
    return (x > TREMONTI_RANGE[0]) & (x < TREMONTI_RANGE[1])


def binned_scatter(mass, metallicity, edges) -> pd.DataFrame:
    """Count, median and NMAD of metallicity in each mass bin (galaxies outside the bins are ignored)."""
    mass = as_values(mass, "mass")
    metallicity = as_values(metallicity, "metallicity")
    if mass.shape != metallicity.shape:
        raise ValueError(
            f"mass has {mass.size} values but metallicity has {metallicity.size}; they must be paired"
        )
    idx = bin_index(mass, np.asarray(edges, dtype=float))
    rows = []
    for b in range(len(edges) - 1):
        z = metallicity[idx == b]
        rows.append(
            {
                "count": int(z.size),
                "median": float(np.median(z)) if z.size else np.nan,
                "nmad": scatter_nmad(z) if z.size else np.nan,
            }
        )
    return pd.DataFrame(rows)


def scatter_ratio(
    sdss_mass, sdss_z, cnn_mass, cnn_z, edges, min_count: int = MIN_BIN_COUNT
) -> tuple[pd.DataFrame, dict]:
    """NMAD of Z at fixed mass for the CNN relation over that for SDSS, per mass bin.

    Returns the per-bin table (``lo``, ``hi``, ``center``, ``n_sdss``, ``n_cnn``,
    ``median_sdss``, ``median_cnn``, ``nmad_sdss``, ``nmad_cnn``, ``ratio``,
    ``used``) and the summary ``{"ratio": mean, "spread": spread, "n": galaxies,
    "bins": bins used}``. The mean and spread are weighted by the CNN relation's
    bin counts: mean = Σ nᵢ rᵢ / Σ nᵢ, spread = sqrt(Σ nᵢ (rᵢ − mean)² / Σ nᵢ).
    Bins with fewer than ``min_count`` galaxies in either sample, or zero SDSS
    scatter, are kept in the table with ``used`` False and no ratio.
    """
    edges = np.asarray(edges, dtype=float)
    sdss = binned_scatter(sdss_mass, sdss_z, edges)
    cnn = binned_scatter(cnn_mass, cnn_z, edges)
    table = pd.DataFrame(
        {"lo": edges[:-1], "hi": edges[1:], "center": 0.5 * (edges[:-1] + edges[1:])}
    )
    for name, part in (("sdss", sdss), ("cnn", cnn)):
        table[f"n_{name}"] = part["count"]
        table[f"median_{name}"] = part["median"]
        table[f"nmad_{name}"] = part["nmad"]
    table["used"] = (
        (table["n_sdss"] >= min_count) & (table["n_cnn"] >= min_count) & (table["nmad_sdss"] > 0)
    )
    table["ratio"] = np.where(
        table["used"], table["nmad_cnn"] / table["nmad_sdss"].where(table["used"]), np.nan
    )
    skipped = int((~table["used"]).sum())
    if skipped:
        log.info(
            "%d of %d mass bins have fewer than %d galaxies (or no SDSS scatter) and get no ratio",
            skipped,
            len(table),
            min_count,
        )
    return table, weighted_ratio(table["ratio"][table["used"]], table["n_cnn"][table["used"]])


def weighted_ratio(ratios, counts) -> dict:
    """Count-weighted mean of the per-bin ratios and the count-weighted spread about it."""
    r = np.asarray(ratios, dtype=float)
    w = np.asarray(counts, dtype=float)
    if r.shape != w.shape:
        raise ValueError(f"{r.size} ratios but {w.size} counts; each bin needs one of each")
    if r.size == 0 or w.sum() <= 0:
        log.warning("no mass bin has enough galaxies for a scatter ratio")
        return {"ratio": np.nan, "spread": np.nan, "n": 0, "bins": 0}
    if not np.all(np.isfinite(r)) or np.any(w < 0):
        raise ValueError("ratios must be finite and counts non-negative")
    mean = float(np.sum(w * r) / w.sum())
    spread = float(np.sqrt(np.sum(w * (r - mean) ** 2) / w.sum()))
    return {"ratio": mean, "spread": spread, "n": int(w.sum()), "bins": int(r.size)}


def mmr_edges(mass_min: float, mass_max: float, step: float) -> np.ndarray:
    """The config's ``mmr`` bins: width = step (docs/paper.md: 0.2 dex over 8.5–11.5)."""
    return bin_edges(mass_min, mass_max, step)


def mmr_table(test: pd.DataFrame, edges, min_count: int = MIN_BIN_COUNT) -> pd.DataFrame:
    """The scatter-ratio table for both comparisons the paper makes.

    ``test`` has one row per test galaxy with ``z_true``, ``z_pred``,
    ``mass_true`` and optionally ``mass_pred`` (the CNN's stellar mass):

    * ``cnn_metallicity``: Z_pred vs true mass against Z_true vs true mass;
    * ``cnn_mass`` (when ``mass_pred`` is present): Z_true vs CNN mass against
      Z_true vs true mass.

    One row per bin (``kind`` "bin") and one summary row per comparison
    (``kind`` "weighted", ``ratio`` = weighted mean, ``ratio_spread``).
    """
    missing = [c for c in ("z_true", "z_pred", "mass_true") if c not in test.columns]
    if missing:
        raise ValueError(
            f"MMR input lacks columns {missing}; it needs z_true, z_pred, mass_true (and optionally mass_pred)"
        )
    comparisons = {"cnn_metallicity": ("mass_true", "z_pred")}
    if "mass_pred" in test.columns:
        comparisons["cnn_mass"] = ("mass_pred", "z_true")
    parts = []
    for name, (mass_col, z_col) in comparisons.items():
        bins, summary = scatter_ratio(
            test["mass_true"], test["z_true"], test[mass_col], test[z_col], edges, min_count
        )
        log.info(
            "MMR scatter ratio (%s): %.3f ± %.3f over %d bins, %d galaxies",
            name,
            summary["ratio"],
            summary["spread"],
            summary["bins"],
            summary["n"],
        )
        bins.insert(0, "kind", "bin")
        bins.insert(0, "comparison", name)
        bins["ratio_spread"] = np.nan
        total = {
            "comparison": name,
            "kind": "weighted",
            "lo": edges[0],
            "hi": edges[-1],
            "center": np.nan,
            "n_sdss": int(bins.loc[bins["used"], "n_sdss"].sum()),
            "n_cnn": summary["n"],
            "used": summary["bins"] > 0,
            "ratio": summary["ratio"],
            "ratio_spread": summary["spread"],
        }
        parts += [bins, pd.DataFrame([total])]
    return pd.concat(parts, ignore_index=True)


def mmr_sample(
    z_predictions: pd.DataFrame, catalog: pd.DataFrame, mass_predictions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Test galaxies with ``z_true``, ``z_pred``, ``mass_true`` (and ``mass_pred``).

    ``z_predictions`` and ``mass_predictions`` are the ensemble prediction
    tables (``objID``, ``true``, ``pred``) for metallicity and stellar mass;
    galaxies without a measured mass (−9999) are dropped and counted in the log.
    """
    test = z_predictions[["objID", "true", "pred"]].rename(
        columns={"true": "z_true", "pred": "z_pred"}
    )
    masses = catalog.loc[target_mask(catalog, MASS), ["objID", MASS]]
    sample = test.merge(masses.rename(columns={MASS: "mass_true"}), on="objID", how="inner")
    if mass_predictions is not None:
        cnn = mass_predictions[["objID", "pred"]].rename(columns={"pred": "mass_pred"})
        sample = sample.merge(cnn, on="objID", how="inner")
    dropped = len(test) - len(sample)
    if dropped:
        log.info(
            "MMR: %d of %d test galaxies lack a measured (or predicted) stellar mass and are left out",
            dropped,
            len(test),
        )
    if sample.empty:
        raise ValueError(
            f"no test galaxy has both a metallicity prediction and a stellar mass; check the catalogue's {MASS}"
        )
    return sample


def select_sample(
    sample: pd.DataFrame, min_mass: float | None = None, z_true: tuple | list | None = None
) -> pd.DataFrame:
    """The galaxies with mass_true > ``min_mass`` and lo < z_true < hi (None: no bound)."""
    keep = np.ones(len(sample), dtype=bool)
    if min_mass is not None:
        keep &= sample["mass_true"].to_numpy() > min_mass
    lo, hi = z_true if z_true is not None else (None, None)
    if lo is not None:
        keep &= sample["z_true"].to_numpy() > lo
    if hi is not None:
        keep &= sample["z_true"].to_numpy() < hi
    log.info(
        "MMR sample: %d of %d test galaxies with log M* > %s and %s < Z_true < %s",
        keep.sum(),
        len(sample),
        min_mass,
        lo,
        hi,
    )
    if not keep.any():
        raise ValueError(
            f"no test galaxy has log M* > {min_mass} and {lo} < Z_true < {hi}; widen mmr.min_mass or mmr.z_true"
        )
    return sample[keep].reset_index(drop=True)


def build_mmr_table(
    z_predictions_path: str,
    catalog_path: str,
    mass_predictions_path: str | None,
    edges,
    out_path: str,
    min_mass: float | None = None,
    z_true: tuple | list | None = None,
    min_count: int = MIN_BIN_COUNT,
) -> pd.DataFrame:
    """Read the stored predictions and catalogue, select the sample, write the scatter-ratio
    table (CSV) with the selection and ``min_count`` in :data:`SETTING_COLUMNS`, return it."""
    mass = pd.read_parquet(mass_predictions_path) if mass_predictions_path else None
    sample = mmr_sample(
        pd.read_parquet(z_predictions_path),
        pd.read_parquet(catalog_path, columns=list(CATALOG_COLUMNS)),
        mass,
    )
    table = mmr_table(select_sample(sample, min_mass, z_true), edges, min_count)
    lo, hi = z_true if z_true is not None else (None, None)
    for col, value in zip(SETTING_COLUMNS, (min_mass, lo, hi, min_count), strict=True):
        table[col] = np.nan if value is None else value
    write_csv(out_path, table)
    return table

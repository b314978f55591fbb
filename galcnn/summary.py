"""The results table: RMSE and NMAD of every model against the paper's values.

One row per method × target × bands × resolution × variant. CNN variants:
``ensemble`` (fold mean of test-time-augmented predictions, the paper's
number), ``ensemble_notta``, ``validation`` (out-of-fold predictions of the
non-test galaxies) and ``fold{k}`` (each fold's model alone). Baselines have
variant ``rf`` / ``mean``, bands ``gri`` / ``-`` and no resolution. The
authors' published predictions, when the reference stage ran, give rows of method
``published`` (variant ``published``, or one row of variant ``unavailable`` saying
they could not be had).

``paper_rmse`` / ``paper_nmad`` are the paper's values for a row, compared like
with like: a single model's rows (``fold{k}``) with the paper's single-model
numbers (its figures, MMR and published predictions come from one model), the
``ensemble`` row with its 5-fold ensemble. ``paper_source`` says where they come
from: the published predictions, rescored here, wherever they cover the row;
the paper's text (docs/paper.md) otherwise. ``paper_figure`` says which
figure or section of the paper the comparison uses. The text's values are for
gri images at 128 px; they are set beside the top resolution of each trained
configuration (``paper_figure`` names the paper's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from galcnn.metrics import nmad, rmse
from galcnn.reference import Reference, load_reference
from galcnn.storage import write_csv, write_text

log = logging.getLogger(__name__)

COLUMNS = (
    "method",
    "target",
    "bands",
    "resolution",
    "variant",
    "n",
    "rmse",
    "nmad",
    "paper_rmse",
    "paper_nmad",
    "paper_source",
    "paper_figure",
)
PAPER = "paper"
METHOD_ORDER = {"cnn": 0, "published": 1, "rf": 2, "mean": 3}

#: The paper's test-set numbers on real SDSS, keyed by (method, target, bands, kind) ->
#: (RMSE, NMAD, where in the paper), in dex; kind is ``single`` (one model), ``ensemble``
#: (the 5-fold mean) or the baseline's name. NaN where the paper gives no such number.
PAPER_VALUES: dict[tuple, tuple[float, float, str]] = {
    ("cnn", "oh_p50", "gri", "single"): (0.085, 0.0668, "Fig. 2 and §4: one model, gri 128 px"),
    # The ensemble's RMSE only: the paper quotes no NMAD for it.
    ("cnn", "oh_p50", "gri", "ensemble"): (
        0.0835,
        np.nan,
        "§2.3.5 of the earlier draft: 5-fold ensemble, gri 128 px",
    ),
    # Fig. 4 quotes the scatter as a standard deviation (0.218 dex, set as the RMSE) and an NMAD of 0.19-0.22.
    ("cnn", "lgm_tot_p50", "gri", "single"): (
        0.218,
        np.nan,
        "Fig. 4 left and §5: one model, gri 128 px; std 0.218 dex, NMAD 0.19-0.22",
    ),
    ("rf", "oh_p50", "gri", "rf"): (
        0.1296,
        0.1059,
        "§4.1 and Fig. 3: random forest on g, r, i (40 trees, min_samples_leaf 8)",
    ),
}

#: NMAD(CNN)/NMAD(SDSS) of metallicity at fixed mass, mean ± spread (docs/paper.md, "MMR scatter ratio").
PAPER_MMR: dict[str, tuple[float, float]] = {
    "cnn_metallicity": (0.821, 0.077),
    "cnn_mass": (0.811, 0.057),
}

#: The non-CNN methods: bands shown in the table (the forest uses g, r, i magnitudes).
BASELINE_BANDS = {"rf": "gri", "mean": "-"}


def comparison_kind(variant: str) -> str | None:
    """Which of the paper's numbers a row compares with: ``single`` for one fold's model,
    ``ensemble`` for the fold mean (both with TTA, as the paper's), a baseline's own name."""
    if variant.startswith("fold"):
        return "single"
    if variant in ("ensemble", *BASELINE_BANDS):
        return variant
    return None


def cnn_rows(
    test: pd.DataFrame, validation: pd.DataFrame | None, target: str, bands: str, resolution: int
) -> list[dict]:
    """Rows for one trained configuration from its prediction tables."""
    variants = {"ensemble": "pred", "ensemble_notta": "pred_notta"}
    fold_cols = sorted(
        (c for c in test.columns if c.startswith("pred_fold") and not c.endswith("_notta")),
        key=lambda c: int(c[9:]),
    )
    if "pred" not in test.columns or not fold_cols:
        raise ValueError(
            f"predictions for {target}/{bands}/{resolution}px lack 'pred' "
            f"or 'pred_fold<k>' columns; found {list(test.columns)}"
        )
    variants.update({c[5:]: c for c in fold_cols})
    key = ("cnn", target, bands, resolution)
    rows = [_row(*key, variant, test["true"], test[col]) for variant, col in variants.items()]
    if validation is not None:
        rows.insert(2, _row(*key, "validation", validation["true"], validation["pred"]))
    return rows


def baseline_row(frame: pd.DataFrame, method: str, target: str) -> dict:
    if method not in BASELINE_BANDS:
        raise ValueError(
            f"unknown baseline method {method!r}; expected one of {sorted(BASELINE_BANDS)}"
        )
    return _row(method, target, BASELINE_BANDS[method], None, method, frame["true"], frame["pred"])


def published_rows(reference: Reference) -> list[dict]:
    """The published predictions rescored with our metrics, or one row saying they are unavailable."""
    if not reference.available:
        return [
            {
                **dict.fromkeys(COLUMNS, np.nan),
                "method": "published",
                "target": reference.target,
                "bands": reference.bands,
                "resolution": None,
                "variant": "unavailable",
                "n": 0,
                "paper_source": "",
                "paper_figure": "",
            }
        ]
    return [
        _row(
            "published",
            reference.target,
            reference.bands,
            res,
            "published",
            frame["true"],
            frame["pred"],
        )
        for res, frame in sorted(reference.frames.items(), reverse=True)
    ]


def summary_table(
    cnn: Mapping[tuple[str, str, int], tuple[pd.DataFrame, pd.DataFrame | None]],
    baselines: Mapping[tuple[str, str], pd.DataFrame],
    reference: Reference | None = None,
) -> pd.DataFrame:
    """The table from ``{(target, bands, res): (test, validation)}``, ``{(method, target): predictions}``
    and the published reference (None when that stage is not configured)."""
    rows = []
    top = {}
    for target, bands, res in cnn:
        top[target, bands] = max(top.get((target, bands), 0), int(res))
    for (target, bands, res), (test, validation) in cnn.items():
        rows += cnn_rows(test, validation, target, bands, int(res))
    rows += [baseline_row(frame, method, target) for (method, target), frame in baselines.items()]
    for row in rows:
        if row["method"] == "cnn" and row["resolution"] != top[row["target"], row["bands"]]:
            continue
        paper = PAPER_VALUES.get(
            (row["method"], row["target"], row["bands"], comparison_kind(row["variant"]))
        )
        if paper is not None:
            row.update(
                paper_rmse=paper[0], paper_nmad=paper[1], paper_source=PAPER, paper_figure=paper[2]
            )
    if reference is not None:
        published = published_rows(reference)
        by_key = {
            (r["target"], r["bands"], r["resolution"]): r
            for r in published
            if r["variant"] == "published"
        }
        for row in rows:
            match = by_key.get((row["target"], row["bands"], row["resolution"]))
            # The published predictions are one model's: the paper's number for each single-model row.
            if (
                row["method"] == "cnn"
                and comparison_kind(row["variant"]) == "single"
                and match is not None
            ):
                row.update(
                    paper_rmse=match["rmse"],
                    paper_nmad=match["nmad"],
                    paper_source=f"published {reference.source}",
                    paper_figure=f"published predictions: one model, {row['bands']} {row['resolution']} px (Fig. 3)",
                )
        rows += published
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["resolution"] = table["resolution"].astype("Int64")
    table = table.sort_values(
        ["target", "method", "bands", "resolution"],
        key=lambda s: s.map(METHOD_ORDER) if s.name == "method" else s,
        ascending=[True, True, True, False],
        kind="stable",
    )
    return table.reset_index(drop=True)


def summary_markdown(
    table: pd.DataFrame, mmr: pd.DataFrame | None = None, reference: Reference | None = None
) -> str:
    """The table as Markdown: headline rows (ensembles, published and baselines), all rows, the
    state of the published reference and the MMR ratios."""
    fmt = table.copy()
    fmt["resolution"] = fmt["resolution"].astype(object).where(fmt["resolution"].notna(), "-")
    for col in ("rmse", "nmad", "paper_rmse", "paper_nmad"):
        fmt[col] = (
            fmt[col].astype(object).where(fmt[col].notna(), None)
        )  # tabulate prints None as missingval
    headline = fmt[
        fmt["variant"].isin(["ensemble", "published", "unavailable", "rf", "mean"])
        | fmt["paper_figure"].astype(bool)
    ]
    parts = [
        "# Results on the test set",
        "",
        "RMSE and NMAD of ΔZ = prediction − truth, in dex; paper values from Wu & Boada (2019) where reported.",
        "",
        "Published reference: "
        f"{reference.describe() if reference is not None else 'not configured (reference.enabled: false)'}.",
        "",
        "## Single models and fold ensembles beside the paper's, and the baselines",
        "",
        headline.to_markdown(index=False, floatfmt=".4f", missingval="-"),
        "",
        "## Every model",
        "",
        fmt.to_markdown(index=False, floatfmt=".4f", missingval="-"),
    ]
    if mmr is not None:
        parts += [
            "",
            "## Mass–metallicity relation: NMAD(CNN) / NMAD(SDSS) at fixed mass (paper §5: one model's predictions)",
            "",
        ]
        weighted = mmr[mmr["kind"] == "weighted"]
        for _, row in weighted.iterrows():
            paper = PAPER_MMR.get(row["comparison"])
            ref = f" (paper: {paper[0]:.3f} ± {paper[1]:.3f})" if paper else ""
            if np.isfinite(row["ratio"]):
                ours = f"{row['ratio']:.3f} ± {row['ratio_spread']:.3f} over {int(row['n_cnn'])} galaxies"
            else:
                ours = "no mass bin has enough galaxies"
            parts.append(f"- {row['comparison']}: {ours}{ref}")
    return "\n".join(parts) + "\n"


def _row(method, target, bands, resolution, variant, true, pred) -> dict:
    true = np.asarray(true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    return {
        "method": method,
        "target": target,
        "bands": bands,
        "resolution": resolution,
        "variant": variant,
        "n": int(true.size),
        "rmse": rmse(pred, true),
        "nmad": nmad(pred, true),
        "paper_rmse": np.nan,
        "paper_nmad": np.nan,
        "paper_source": "",
        "paper_figure": "",
    }


def build_summary(
    cnn_paths: Mapping[tuple[str, str, int], tuple[str, str | None]],
    baseline_paths: Mapping[tuple[str, str], str],
    mmr_path: str | None,
    csv_path: str,
    md_path: str,
    reference_status: str | None = None,
    reference_paths: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Read the stored predictions, write the CSV and Markdown tables, return the table."""
    cnn = {
        key: (pd.read_parquet(test), pd.read_parquet(val) if val else None)
        for key, (test, val) in cnn_paths.items()
    }
    baselines = {key: pd.read_parquet(path) for key, path in baseline_paths.items()}
    reference = load_reference(reference_status, reference_paths or {})
    table = summary_table(cnn, baselines, reference)
    mmr = pd.read_csv(mmr_path) if mmr_path else None
    write_csv(csv_path, table)
    write_text(md_path, summary_markdown(table, mmr, reference))
    log.info(
        "summary: %d rows (%d CNN configurations, %d baselines)",
        len(table),
        len(cnn),
        len(baselines),
    )
    return table

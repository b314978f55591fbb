"""The results table: RMSE and NMAD of every model against the paper's values.

One row per method × target × bands × resolution × variant. CNN variants:
``ensemble`` (fold mean of test-time-augmented predictions, the paper's
number), ``ensemble_notta``, ``validation`` (out-of-fold predictions of the
non-test galaxies) and ``fold{k}`` (each fold's model alone). Baselines have
variant ``rf`` / ``mean``, bands ``gri`` / ``-`` and no resolution. The
authors' published predictions, when the reference stage ran, give rows of method
``published`` (variant ``published``, or one row of variant ``unavailable`` saying
they could not be had).

``survey`` says which sky a row's galaxies are from (``mock`` or ``sdss``; the published
rows are always ``sdss``). ``paper_rmse`` / ``paper_nmad`` are the authors' values set
beside a row of the same kind: a single model's rows (``fold{k}``) beside a single
model's numbers (the paper's figures, MMR and published predictions come from one
model), the ``ensemble`` row beside an ensemble's, a baseline beside its kind.
``paper_source`` says where each comes from (``published <repo@commit>``: the
post-submission predictions, rescored here, wherever they cover the row; ``paper``:
the text; ``notebook``: a value printed in the authors' notebooks; ``earlier draft``),
``paper_figure`` exactly what the value is and where (section, figure, notebook), and
``like_for_like`` whether the comparison is of the same data, resolution, test set and
model (``yes``), or what differs (``no: ...``). The authors' values are all for gri
images at 128 px of the real sky; the text's are set beside the top resolution of each
trained configuration.

:data:`COMPARISON_COLUMNS` follow: for each CNN test row, the paired bootstrap
(:mod:`galcnn.bootstrap`, seeded, over the test galaxies both predict) of its difference to
the random forest and to the mean baseline, CNN − baseline in dex, for RMSE
(``delta_rf_rmse`` with its 95 % interval ``delta_rf_lo`` … ``delta_rf_hi``) and NMAD
(``delta_rf_nmad``, ``delta_rf_nmad_lo``, ``delta_rf_nmad_hi``), the same with ``mean``;
and on every CNN row of a configuration the fold-to-fold spread (standard deviation over
its fold models) of the test RMSE and NMAD. Negative differences favour the CNN; a
difference is resolved when its interval excludes 0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from galcnn import bootstrap
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
    "survey",
    "like_for_like",
)
#: Baselines each CNN row is compared with (:func:`baseline_differences`).
COMPARED = ("rf", "mean")
COMPARISON_COLUMNS = (
    *(
        f"delta_{m}_{c}"
        for m in COMPARED
        for c in ("rmse", "lo", "hi", "nmad", "nmad_lo", "nmad_hi")
    ),
    "fold_spread_rmse",
    "fold_spread_nmad",
)
#: The rows and variants a comparison is keyed by.
ROW_KEY = ("method", "target", "bands", "resolution", "variant")
PAPER = "paper"
NOTEBOOK = "notebook"
EARLIER_DRAFT = "earlier draft"
#: What the authors' values were measured on, besides the model: compared with each row's own.
PAPER_DATA = {"survey": "sdss", "resolution": 128}
METHOD_ORDER = {"cnn": 0, "published": 1, "rf": 2, "mean": 3}

#: The authors' test-set numbers on real SDSS (gri, 128 px), keyed by (method, target, bands, kind)
#: -> (RMSE, NMAD, source, exactly what the value is, what differs from our like row whatever our
#: run), in dex; kind is ``single`` (one model), ``ensemble`` (the 5-fold mean) or the baseline's
#: name. NaN where no such number is given. docs/paper.md, "Results to compare against".
PAPER_VALUES: dict[tuple, tuple[float, float, str, str, str]] = {
    ("cnn", "oh_p50", "gri", "single"): (
        0.085,
        0.0668,
        PAPER,
        "the text's single model: NMAD 0.0668 (§4, Fig. 2); RMSE ≈ 0.085 from notebook 11, not in the text",
        "test set: the text's own random split",
    ),
    # The ensemble's RMSE only: no NMAD is given for it.
    ("cnn", "oh_p50", "gri", "ensemble"): (
        0.0835,
        np.nan,
        EARLIER_DRAFT,
        "a joint model's 5-fold ensemble, RMSE 0.0835 (earlier draft §2.3.5)",
        "model: a joint model's ensemble; test set: another split",
    ),
    # No mass-only number is printed: 0.218 (set as the RMSE) is the std of a four-output model.
    ("cnn", "lgm_tot_p50", "gri", "single"): (
        0.218,
        np.nan,
        NOTEBOOK,
        "std 0.218 of a joint four-output model (notebooks), not Fig. 4's mass-only model; "
        "the text (§5) says NMAD ≈ 0.22",
        "model: joint four-output; statistic: std, not RMSE; test set: another split",
    ),
    ("rf", "oh_p50", "gri", "rf"): (
        0.1296,
        0.1059,
        NOTEBOOK,
        "a notebook's forest on g, r, i (40 trees, min_samples_leaf 8), printed there; "
        "Fig. 3's code plots the default forest (RMSE 0.138, NMAD 0.116)",
        "test set: the notebook's split",
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


def cnn_variants(test: pd.DataFrame, target: str, bands: str, resolution: int) -> dict[str, str]:
    """variant -> column of a configuration's test predictions: ensemble, ensemble_notta, fold{k}."""
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
    return variants


def cnn_rows(
    test: pd.DataFrame, validation: pd.DataFrame | None, target: str, bands: str, resolution: int
) -> list[dict]:
    """Rows for one trained configuration from its prediction tables."""
    variants = cnn_variants(test, target, bands, resolution)
    key = ("cnn", target, bands, resolution)
    rows = [_row(*key, variant, test["true"], test[col]) for variant, col in variants.items()]
    if validation is not None:
        rows.insert(2, _row(*key, "validation", validation["true"], validation["pred"]))
    return rows


def baseline_differences(
    cnn: Mapping[tuple[str, str, int], tuple[pd.DataFrame, pd.DataFrame | None]],
    baselines: Mapping[tuple[str, str], pd.DataFrame],
    seed: int,
    resamples: int = bootstrap.RESAMPLES,
) -> pd.DataFrame:
    """:data:`COMPARISON_COLUMNS` of every CNN test row, keyed by :data:`ROW_KEY`. Each
    comparison pairs the galaxies by objID (both predict the same test set) and resamples them
    with one seed, so every row of a target is compared on the same resamples."""
    rows = []
    for (target, bands, res), (test, _) in cnn.items():
        variants = cnn_variants(test, target, bands, int(res))
        folds = [v for v in variants if v.startswith("fold")]
        spread = {
            f"fold_spread_{name}": float(
                np.std([metric(test[variants[f]], test["true"]) for f in folds], ddof=1)
            )
            for name, metric in (("rmse", rmse), ("nmad", nmad))
        }
        for variant, col in variants.items():
            row = {"method": "cnn", "target": target, "bands": bands, "resolution": int(res)}
            row |= {"variant": variant, **spread}
            for method in COMPARED:
                other = baselines.get((method, target))
                if other is None:
                    continue
                # The baseline's columns renamed first: the ensemble's own column is "pred" too.
                paired = test[["objID", "true", col]].merge(
                    other[["objID", "true", "pred"]].rename(
                        columns={"true": "true_other", "pred": "pred_other"}
                    ),
                    on="objID",
                )
                if len(paired) < len(test):
                    log.warning(
                        "%s/%s/%dpx: %d of %d test galaxies have a %s prediction; compared on those",
                        target,
                        bands,
                        res,
                        len(paired),
                        len(test),
                        method,
                    )
                found = bootstrap.paired_difference(
                    paired[col] - paired["true"],
                    paired["pred_other"] - paired["true_other"],
                    seed=seed,
                    resamples=resamples,
                )
                for stat, names in (
                    ("rmse", ("rmse", "lo", "hi")),
                    ("nmad", ("nmad", "nmad_lo", "nmad_hi")),
                ):
                    row |= {f"delta_{method}_{n}": v for n, v in zip(names, found[stat])}
            rows.append(row)
    out = pd.DataFrame(rows, columns=[*ROW_KEY, *COMPARISON_COLUMNS])
    out["resolution"] = out["resolution"].astype("Int64")
    return out


def comparison_sentences(table: pd.DataFrame) -> list[str]:
    """Each fold ensemble's differences to the baselines in words: which are resolved."""
    names = {"rf": "the random forest", "mean": "the mean baseline"}
    lines = []
    for _, row in table[(table["method"] == "cnn") & (table["variant"] == "ensemble")].iterrows():
        parts = []
        for method in COMPARED:
            for stat, prefix in (("rmse", f"delta_{method}"), ("nmad", f"delta_{method}_nmad")):
                value = row[f"delta_{method}_{stat}"]
                lo, hi = row[f"{prefix}_lo"], row[f"{prefix}_hi"]
                if pd.isna(value):
                    continue
                verdict = (
                    ("better" if hi < 0 else "worse") + ", resolved"
                    if bootstrap.resolved(lo, hi)
                    else "not resolved: the interval holds 0"
                )
                parts.append(
                    f"{stat.upper()} {value:+.4f} dex against {names[method]} "
                    f"(95 % interval {lo:+.4f} to {hi:+.4f}; {verdict})"
                )
        lines.append(
            f"- {row['target']} {row['bands']} {row['resolution']} px ensemble: "
            + "; ".join(parts)
            + f". Its folds' RMSEs spread by {row['fold_spread_rmse']:.4f} dex (standard deviation)."
        )
    return lines


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
                "like_for_like": "",
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


def like_for_like(survey: str, resolution, paper_resolution: int, differs: str) -> str:
    """``yes``, or ``no: `` and what differs between a row (its ``survey``, ``resolution``; None for a
    baseline) and the authors' value it sits beside (real SDSS at ``paper_resolution``, plus ``differs``)."""
    out = []
    if survey != PAPER_DATA["survey"]:
        out.append(f"data: the {survey} survey, the authors' is real SDSS")
    if resolution is not None and int(resolution) != int(paper_resolution):
        out.append(f"resolution: {int(resolution)} px, the authors' {int(paper_resolution)} px")
    if differs:
        out.append(differs)
    return "no: " + "; ".join(out) if out else "yes"


def summary_table(
    cnn: Mapping[tuple[str, str, int], tuple[pd.DataFrame, pd.DataFrame | None]],
    baselines: Mapping[tuple[str, str], pd.DataFrame],
    reference: Reference | None = None,
    seed: int = 0,
    survey: str = "sdss",
    test_set: str = "random",
) -> pd.DataFrame:
    """The table from ``{(target, bands, res): (test, validation)}``, ``{(method, target): predictions}``
    and the published reference (None when that stage is not configured); ``seed`` seeds the
    bootstrap of :func:`baseline_differences`; ``survey`` and ``test_set`` are the run's (config
    keys of the same names), which say how alike the authors' values are."""
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
            rmse_, nmad_, source, what, differs = paper
            resolution = row["resolution"] if row["method"] == "cnn" else None
            row.update(
                paper_rmse=rmse_,
                paper_nmad=nmad_,
                paper_source=source,
                paper_figure=what,
                like_for_like=like_for_like(survey, resolution, PAPER_DATA["resolution"], differs),
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
                same_galaxies = survey == "sdss" and test_set == "reference"
                row.update(
                    paper_rmse=match["rmse"],
                    paper_nmad=match["nmad"],
                    paper_source=f"published {reference.source}",
                    paper_figure=(
                        f"the published post-submission predictions of one model, {row['bands']} "
                        f"{row['resolution']} px, rescored here (a later run of the text's recipe)"
                    ),
                    like_for_like=like_for_like(
                        survey,
                        row["resolution"],
                        match["resolution"],
                        "" if same_galaxies else "test set: other galaxies",
                    ),
                )
        rows += published
    for row in rows:
        # The published rows are the real sky's whatever this run's survey.
        row["survey"] = "sdss" if row["method"] == "published" else survey
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["resolution"] = table["resolution"].astype("Int64")
    table = table.sort_values(
        ["target", "method", "bands", "resolution"],
        key=lambda s: s.map(METHOD_ORDER) if s.name == "method" else s,
        ascending=[True, True, True, False],
        kind="stable",
    )
    table = table.reset_index(drop=True)
    return table.merge(
        baseline_differences(cnn, baselines, seed), on=list(ROW_KEY), how="left", validate="1:1"
    )


def summary_markdown(
    table: pd.DataFrame, mmr: pd.DataFrame | None = None, reference: Reference | None = None
) -> str:
    """The table as Markdown: headline rows (ensembles, published and baselines), all rows, the
    state of the published reference and the MMR ratios."""
    fmt = table.copy()
    fmt["resolution"] = fmt["resolution"].astype(object).where(fmt["resolution"].notna(), "-")
    for col in ("rmse", "nmad", "paper_rmse", "paper_nmad", *COMPARISON_COLUMNS):
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
        "RMSE and NMAD of ΔZ = prediction − truth, in dex; the authors' values (Wu & Boada 2019: the text, "
        "their notebooks, their published predictions) where reported. `survey` is the sky of a row's "
        "galaxies; `paper_figure` says exactly what the authors' value is and `like_for_like` what differs.",
        "",
        "Published reference: "
        f"{reference.describe() if reference is not None else 'not configured (reference.enabled: false)'}.",
        "",
        "## Single models and fold ensembles beside the paper's, and the baselines",
        "",
        headline[list(COLUMNS)].to_markdown(index=False, floatfmt=".4f", missingval="-"),
        "",
        "## Every model",
        "",
        fmt[list(COLUMNS)].to_markdown(index=False, floatfmt=".4f", missingval="-"),
        "",
        "## CNN against the baselines: paired bootstrap over the test galaxies",
        "",
        f"CNN − baseline in dex (negative: the CNN scatters less), 95 % intervals from "
        f"{bootstrap.RESAMPLES} seeded paired resamples of the test galaxies; a difference is "
        "resolved when its interval excludes 0. The fold spread is the standard deviation of "
        "the fold models' test metrics.",
        "",
        *comparison_sentences(table),
        "",
        fmt.loc[
            fmt["method"] == "cnn",
            ["target", "bands", "resolution", "variant", *COMPARISON_COLUMNS],
        ]
        .dropna(subset=["delta_rf_rmse", "delta_mean_rmse"], how="all")
        .to_markdown(index=False, floatfmt="+.4f", missingval="-"),
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
        "survey": "",
        "like_for_like": "",
    }


def build_summary(
    cnn_paths: Mapping[tuple[str, str, int], tuple[str, str | None]],
    baseline_paths: Mapping[tuple[str, str], str],
    mmr_path: str | None,
    csv_path: str,
    md_path: str,
    reference_status: str | None = None,
    reference_paths: Mapping[int, str] | None = None,
    seed: int = 0,
    survey: str = "sdss",
    test_set: str = "random",
) -> pd.DataFrame:
    """Read the stored predictions, write the CSV and Markdown tables, return the table
    (``seed``: the bootstrap's)."""
    cnn = {
        key: (pd.read_parquet(test), pd.read_parquet(val) if val else None)
        for key, (test, val) in cnn_paths.items()
    }
    baselines = {key: pd.read_parquet(path) for key, path in baseline_paths.items()}
    reference = load_reference(reference_status, reference_paths or {})
    table = summary_table(cnn, baselines, reference, seed, survey, test_set)
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

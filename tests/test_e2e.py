"""The whole DAG, run by snakemake on the tiny mock configuration."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY, snakemake

from galcnn import paths

pytestmark = pytest.mark.e2e


def test_tiny_run_produces_every_stage(tiny_run):
    r = tiny_run / "results"
    catalog = pd.read_parquet(r / "catalog" / "galaxies.parquet")
    index = pd.read_parquet(r / "images" / "index.parquet")
    splits = pd.read_parquet(r / "splits.parquet")
    assert catalog["objID"].is_unique and len(catalog) > 100
    assert set(index["objID"]) <= set(catalog["objID"])
    # Each cutout framed by its galaxy's petroR90_r (cutouts.framing: petrosian), its scale indexed.
    r90 = catalog.set_index("objID").loc[index["objID"], "petroR90_r"].to_numpy()
    np.testing.assert_allclose(index["scale"], 2 * r90 / 0.396 / 128)
    for res in (128, 4, 1):
        images = np.load(r / "images" / f"{res}px.npy", mmap_mode="r")
        assert images.shape == (len(index), res, res, 3) and images.dtype == np.uint8
    assert set(splits["objID"]) == set(index["objID"])
    # The resolution study (oh_p50 from gri) at 4 and 1 px, every other pair at the top resolution only.
    trained = {
        (t, b, res)
        for t in ("oh_p50", "lgm_tot_p50")
        for b in ("gri", "r")
        for res in (4, 1)
        if res == 4 or (t, b) == ("oh_p50", "gri")
    }
    assert {
        (p.parts[-4], p.parts[-3], int(p.parts[-2][:-2]))
        for p in (r / "models").glob("*/*/*/fold0")
    } == trained
    for target, bands, res in sorted(trained):
        for fold in (0, 1):
            model = r / "models" / target / bands / f"{res}px" / f"fold{fold}"
            assert (model / "model.pt").stat().st_size > 0
            metrics = json.loads((model / "metrics.json").read_text())
            assert np.isfinite(metrics["rmse"])
        pred = pd.read_parquet(r / "predictions" / target / bands / f"{res}px.parquet")
        test_ids = set(splits.loc[splits["split"] == "test", "objID"])
        assert set(pred["objID"]) <= test_ids and len(pred) > 0
        assert {"objID", "true", "pred", "pred_notta", "pred_fold0", "pred_fold1_notta"} <= set(
            pred.columns
        )
        np.testing.assert_allclose(
            pred["pred"], pred[["pred_fold0", "pred_fold1"]].mean(axis=1), rtol=1e-6
        )
    # The paper config's headline is one model (analysis.predictions: single, fold 0), as the paper's figures.
    headline = pd.read_parquet(r / "predictions" / "oh_p50" / "gri" / "4px_headline.parquet")
    ensemble = pd.read_parquet(r / "predictions" / "oh_p50" / "gri" / "4px.parquet")
    np.testing.assert_array_equal(headline["pred"], ensemble["pred_fold0"])
    mmr = pd.read_csv(r / "tables" / "mmr.csv")
    assert (
        (mmr[["min_mass", "z_true_min", "z_true_max", "min_count"]] == [8.5, 8.25, 9.15, 1])
        .all()
        .all()
    )
    summary = pd.read_csv(r / "tables" / "summary.csv")
    assert {"cnn", "rf", "mean"} <= set(summary["method"])
    assert (
        summary.loc[summary["variant"] != "unavailable", "rmse"].notna().all()
    )  # offline: see below
    figures = sorted(p.name for p in (r / "figures").glob("*.png"))
    assert len(figures) >= 6, figures
    assert all((r / "figures" / f).stat().st_size > 10_000 for f in figures)
    # The folder records the run that made it (galcnn.pipeline.workspace); any other dot file
    # is a temporary left behind.
    record = tiny_run / paths.WORKSPACE
    assert json.loads(record.read_text())["configfiles"] == ["tests/config/tiny.yaml"]
    assert [p for p in r.rglob(".*") if p != record] == [], "temporary files left behind"


def test_offline_the_published_reference_is_reported_unavailable(tiny_run):
    # tiny.yaml points the reference at 127.0.0.1:9, where nothing listens: the run goes on and says so.
    r = tiny_run / "results"
    status = json.loads((r / "reference" / "oh_p50" / "gri" / "status.json").read_text())
    assert status["available"] is False and "resources/reference/" in status["reason"]
    summary = pd.read_csv(r / "tables" / "summary.csv")
    published = summary[summary["method"] == "published"]
    assert published["variant"].tolist() == ["unavailable"] and published["n"].tolist() == [0]
    assert (
        "Published reference: published predictions of jwuphysics/galaxy-cnns@eb224be unavailable"
        in (r / "tables" / "summary.md").read_text()
    )
    comparison = pd.read_csv(r / "tables" / "reference_comparison.csv")
    assert (
        comparison["n_common"].tolist() == [0]
        and "no trained resolution" in comparison["note"].iloc[0]
    )
    assert (r / "figures" / "fig2_published.png").stat().st_size > 10_000
    assert not (
        r / "figures" / "fig_reference_comparison.png"
    ).exists()  # a mock shares no galaxy with the paper


def test_test_set_reference_on_the_mock_stops_before_any_job(workflow_copy):
    proc = snakemake(
        workflow_copy,
        "--configfile",
        str(TINY.relative_to(REPO)),
        "-n",
        "--config",
        "test_set=reference",
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert (
        proc.returncode != 0
        and "'test_set: reference'" in out
        and "survey: sdss (here 'mock')" in out
    )
    assert not (workflow_copy / "results").exists()


def test_report_bundles_figures_and_tables(tiny_run, tmp_path):
    from conftest import copy_finished

    run = copy_finished(tiny_run, tmp_path / "wf")
    snakemake(run, "--configfile", str(TINY.relative_to(REPO)), "--report", "results/report.html")
    html = (run / "results" / "report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "fig2" in html


def test_a_wrong_config_value_stops_before_any_job(workflow_copy):
    proc = snakemake(
        workflow_copy,
        "--configfile",
        str(TINY.relative_to(REPO)),
        "-n",
        "--config",
        "folds=five",
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "folds" in out and "'five' is not of type 'integer'" in out
    assert not (workflow_copy / "results").exists()


def test_a_resolution_that_does_not_divide_the_cutouts_is_refused(workflow_copy):
    proc = snakemake(
        workflow_copy,
        "--configfile",
        str(TINY.relative_to(REPO)),
        "-n",
        "--config",
        "resolutions=[48]",
        check=False,
    )
    assert proc.returncode != 0 and "resolutions" in proc.stdout + proc.stderr

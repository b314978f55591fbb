"""`snakemake apply` and `snakemake export` after the tiny run: new mock galaxies through the
trained models, with no training or test prediction job, and the exported models agreeing."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY, copy_finished, dry_run_jobs, snakemake

import galcnn
from galcnn.cnn.predict import tta_copies

pytestmark = pytest.mark.e2e

CONFIG = ("--configfile", str(TINY.relative_to(REPO)))
APPLY = (*CONFIG, "apply.yaml")
#: The TTA mode of the tiny run: the paper config's.
PAPER_TTA = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["predict"]["tta_mode"]
#: The apply stage's jobs after a finished run: the calibration is part of the run, the rest is new.
APPLY_JOBS = {
    "apply_catalog": 1,
    "apply_cutouts_render": 1,
    "apply_pack": 1,
    "export_model": 2,
    "apply_predict": 2,
    "apply_table": 1,
    "apply": 1,
}


@pytest.fixture(scope="module")
def applied(tiny_run, tmp_path_factory):
    """A copy of the tiny run, its dry-run job set for `apply`, then `apply` run on 24 new positions."""
    run = copy_finished(tiny_run, tmp_path_factory.mktemp("apply") / "wf")
    rng = np.random.default_rng(11)
    catalog = pd.DataFrame(
        {
            "ra": rng.uniform(120, 250, 24),
            "dec": rng.uniform(-5, 60, 24),
            "z": rng.uniform(0.03, 0.15, 24),
            "note": [f"g{i}" for i in range(24)],
        }
    )
    catalog.loc[3, "z"] = 0.9  # beyond the training redshifts
    catalog.to_csv(run / "new.csv", index=False)
    (run / "apply.yaml").write_text("apply: {catalog: new.csv, name: new}\n")
    jobs = dry_run_jobs(run, "--cores", "1", "apply", *APPLY)
    snakemake(run, "--cores", "2", "apply", *APPLY)
    return run, catalog, jobs


def test_apply_runs_only_the_new_galaxies_jobs(applied):
    run, _, jobs = applied
    assert jobs == APPLY_JOBS
    # The run itself is untouched: nothing of it is out of date afterwards.
    assert dry_run_jobs(run, *CONFIG) == {}


def test_apply_writes_every_galaxy_with_predictions_status_and_flags(applied):
    run, catalog, _ = applied
    table = pd.read_parquet(run / "results" / "apply" / "new.parquet")
    per_target = [
        f"{t}_{s}"
        for t in ("oh_p50", "lgm_tot_p50")
        for s in ("pred", "sigma", "sigma_raw", "n_models")
    ]
    assert list(table.columns) == [
        "objID",
        "ra",
        "dec",
        "z",
        "note",
        # Mock positions are framed by the mock galaxy rendered there (apply.with_mock_sizes).
        "petroR90_r",
        *per_target,
        "status",
        "reason",
        "flags",
    ]
    pd.testing.assert_frame_equal(table[["ra", "dec", "z", "note"]], catalog)
    # CSV has no empty string apart from a missing value.
    csv = pd.read_csv(
        run / "results" / "apply" / "new.csv", dtype={"reason": str, "flags": str}
    ).fillna({"reason": "", "flags": ""})
    pd.testing.assert_frame_equal(csv, table, check_dtype=False)
    assert (
        set(table["status"]) <= {"ok", "blank", "failed"} and (table["status"] == "ok").sum() >= 20
    )
    ok = table["status"] == "ok"
    assert (
        table.loc[ok, "oh_p50_pred"].between(7.5, 10.0).all()
        and (table.loc[ok, "oh_p50_sigma"] > 0).all()
    )
    # Every fold model (2) times the copies TTA averages (the paper config's fastai mode: 1 + 4).
    copies = 2 * tta_copies(PAPER_TTA, 4)
    assert copies == 10 and (table.loc[ok, "oh_p50_n_models"] == copies).all()
    assert table.loc[~ok, "oh_p50_pred"].isna().all()
    assert "z_above_training" in table.loc[3, "flags"]
    assert (table.loc[table["status"] == "blank", "flags"].str.contains("cutout_blank")).all()


def test_the_exported_model_gives_the_same_predictions_outside_snakemake(applied):
    run, _, _ = applied
    r = run / "results"
    table = pd.read_parquet(r / "apply" / "new.parquet").set_index("objID")
    index = pd.read_parquet(r / "apply" / "new" / "images" / "index.parquet").sort_values("row")
    cutouts = np.load(r / "apply" / "new" / "images" / "128px.npy")
    for target in ("oh_p50", "lgm_tot_p50"):
        out = galcnn.load(r / "export" / target / "gri" / "4px", device="cpu").predict(cutouts)
        expected = table.loc[index["objID"]]
        np.testing.assert_allclose(out["pred"], expected[f"{target}_pred"], rtol=1e-10)
        np.testing.assert_allclose(out["sigma"], expected[f"{target}_sigma"], rtol=1e-10)


#: The exported models' predictions in a fresh process whose torch runs on argv[2] threads,
#: compared bit for bit with the apply table of the run in argv[1].
UNDER_THREADS = """
import sys
import numpy as np, pandas as pd, torch
import galcnn

torch.set_num_threads(int(sys.argv[2]))
r = sys.argv[1] + "/results"
table = pd.read_parquet(r + "/apply/new.parquet").set_index("objID")
index = pd.read_parquet(r + "/apply/new/images/index.parquet").sort_values("row")
cutouts = np.load(r + "/apply/new/images/128px.npy")
for target in ("oh_p50", "lgm_tot_p50"):
    out = galcnn.load(r + "/export/" + target + "/gri/4px", device="cpu").predict(cutouts)
    expected = table.loc[index["objID"]]
    np.testing.assert_array_equal(out["pred"], expected[target + "_pred"])
    np.testing.assert_array_equal(out["sigma"], expected[target + "_sigma"])
    assert torch.get_num_threads() == int(sys.argv[2])
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_the_exported_model_reproduces_the_apply_table_bit_for_bit_on_any_thread_count(
    applied, threads
):
    """The apply jobs ran on one thread (the tiny config's resources.predict.threads); a caller
    on 1 or 2 threads gets the same bits: predict runs under model.json's count."""
    run, _, _ = applied
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, "-c", UNDER_THREADS, str(run), str(threads)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]


def test_uncertainty_table_reports_coverage_before_and_after(tiny_run):
    table = pd.read_csv(tiny_run / "results" / "tables" / "uncertainty.csv")
    assert len(table) == 5 and {
        "factor",
        "test_coverage_1sigma_raw",
        "test_coverage_1sigma",
        "test_coverage_2sigma",
    } <= set(table.columns)
    top = table[table["res"] == 4]
    assert (top["factor"] > 0).all() and top["test_coverage_1sigma"].between(0, 1).all()
    # The paper config's fastai TTA changes each copy's lighting, so even 1 px images have a
    # spread to calibrate (with dihedral TTA they would have none, and no factor).
    assert PAPER_TTA == "fastai" and (table.loc[table["res"] == 1, "factor"] > 0).all()
    assert (tiny_run / "results" / "figures" / "fig_calibration.png").stat().st_size > 10_000


def test_apply_without_a_catalogue_or_with_a_bad_one_stops_with_nothing_written(tiny_run, tmp_path):
    run = copy_finished(tiny_run, tmp_path / "wf")
    proc = snakemake(run, "--cores", "1", "apply", *CONFIG, check=False)
    assert (
        proc.returncode != 0
        and "`snakemake apply` needs a catalogue: set apply.catalog" in proc.stdout + proc.stderr
    )
    (run / "apply.yaml").write_text("apply: {catalog: missing.csv, name: new}\n")
    proc = snakemake(run, "--cores", "1", "apply", *APPLY, check=False)
    assert (
        proc.returncode != 0
        and "apply catalogue missing.csv (config apply.catalog) does not exist"
        in proc.stdout + proc.stderr
    )
    pd.DataFrame({"ra": [150.0, np.nan], "dec": [2.0, 3.0]}).to_csv(run / "bad.csv", index=False)
    (run / "apply.yaml").write_text("apply: {catalog: bad.csv, name: new}\n")
    proc = snakemake(run, "--cores", "1", "apply", *APPLY, check=False)
    assert proc.returncode != 0
    log = (run / "logs" / "apply_catalog" / "new.log").read_text()
    assert "column 'ra' is missing or not a number in 1 row(s) (1;" in log
    assert not (run / "results" / "apply").exists() or not list(
        (run / "results" / "apply").rglob("*.parquet")
    )


def test_export_writes_every_configuration_and_only_its_jobs_run(applied):
    run, _, _ = applied
    # The two models apply used are exported already; the other three configurations remain.
    assert dry_run_jobs(run, "--cores", "1", "export", *CONFIG) == {"export_model": 3, "export": 1}
    snakemake(run, "--cores", "2", "export", *CONFIG)
    folders = sorted(
        p.parent.relative_to(run / "results" / "export").as_posix()
        for p in (run / "results" / "export").rglob("model.json")
    )
    assert folders == [
        "lgm_tot_p50/gri/4px",
        "lgm_tot_p50/r/4px",
        "oh_p50/gri/1px",
        "oh_p50/gri/4px",
        "oh_p50/r/4px",
    ]
    one_px = galcnn.load(run / "results" / "export" / "oh_p50" / "gri" / "1px", device="cpu")
    assert one_px.meta["calibration"]["factor"] > 0 and one_px.meta["resolution"] == 1
    out = one_px.predict(np.full((2, 128, 128, 3), 40, dtype=np.uint8))
    # 2 folds x 5 fastai copies, each copy's lighting its own even at 1 px.
    assert out["pred"].notna().all() and (out["sigma"] > 0).all() and (out["n_models"] == 10).all()

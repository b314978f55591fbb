"""survey: local end to end on generated PNGs with the tiny run's settings: no SQL, mock or download
job, the random forest and the MMR left out with a line saying why, the bad images listed, then
`apply` on a folder of new galaxies' images."""

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_workflow, dry_run_jobs, snakemake
from local_images import galaxy, write_sample
from PIL import Image

pytestmark = pytest.mark.e2e

CONFIG = ("--configfile", "tests/config/tiny.yaml", "local.yaml")
APPLY = (*CONFIG, "apply.yaml")
#: Generated at twice the cutout size, so every image is area-averaged on the way in.
LOCAL = {
    "survey": "local",
    "local": {"catalog": "galaxies.csv", "images": "imgs"},
    "cutouts": {"size": 16, "shards": 2},
    # One resolution, one target, one band set: two torch training jobs, to keep the test cheap.
    "resolutions": [4],
    "targets": ["oh_p50"],
    "bands": ["gri"],
    "reference": {"enabled": False},
}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    run = copy_workflow(tmp_path_factory.mktemp("local") / "wf")
    catalog = write_sample(run / "imgs", 110, 32, seed=5)
    catalog.to_csv(run / "galaxies.csv", index=False)
    (run / "imgs" / "1000.png").unlink()  # a row without an image
    write_sample(run / "imgs", 1, 32, seed=6, first_id=9000)  # an image without a row
    rng = np.random.default_rng(0)
    Image.fromarray(galaxy(3, 100, rng)).save(
        run / "imgs" / "1001.png"
    )  # below the 4 px resolution
    Image.fromarray(galaxy(32, 100, rng)[:, :24]).save(run / "imgs" / "1002.png")  # not square
    (run / "local.yaml").write_text(yaml.safe_dump(LOCAL))
    plan = snakemake(run, "-n", "--cores", "1", *CONFIG)
    jobs = dry_run_jobs(run, "--cores", "1", *CONFIG)
    snakemake(run, "--cores", "2", *CONFIG)
    return run, plan.stdout + plan.stderr, jobs


def test_local_survey_runs_without_sql_mock_download_forest_or_mmr(local_run):
    run, plan, jobs = local_run
    assert (
        "survey local: no random-forest baseline (rule baselines_rf): the catalogue has no modelMag_g"
        in plan
    )
    assert (
        "survey local: no mass-metallicity relation (rule analysis_mmr, fig_mmr, fig4_mass)" in plan
    )
    assert jobs["catalog_local"] == 1 and jobs["cutouts_local"] == 2 and jobs["train_cnn"] == 2
    absent = (
        "catalog_query",
        "catalog_mock",
        "cutouts_render",
        "cutouts_download",
        "baselines_rf",
        "analysis_mmr",
    )
    assert not set(absent) & set(jobs)
    summary = pd.read_csv(run / "results" / "tables" / "summary.csv")
    assert set(summary["method"]) >= {"cnn", "mean"} and "rf" not in set(summary["method"])
    for name in ("fig2_predicted_vs_true", "fig3_resolution", "fig1_gallery"):
        assert (run / "results" / "figures" / f"{name}.png").stat().st_size > 10_000
    assert not (run / "results" / "figures" / "fig_mmr.png").exists()
    # The run is complete: nothing is out of date.
    assert dry_run_jobs(run, *CONFIG) == {}


def test_bad_images_and_unmatched_rows_are_listed_with_the_reason(local_run):
    run, _, _ = local_run
    excluded = pd.read_parquet(run / "results" / "images" / "excluded.parquet").set_index("objID")
    assert sorted(excluded.index) == [1000, 1001, 1002, 9000]
    assert "no image 1000.jpg|jpeg|png" in excluded.loc[1000, "reason"]
    assert "smaller than the largest resolution (4 px)" in excluded.loc[1001, "reason"]
    assert "not square" in excluded.loc[1002, "reason"]
    assert excluded.loc[9000, "status"] == "uncatalogued"
    index = pd.read_parquet(run / "results" / "images" / "index.parquet")
    assert len(index) == 107 and np.load(run / "results" / "images" / "16px.npy").shape == (
        107,
        16,
        16,
        3,
    )


def test_apply_on_a_folder_of_images_predicts_without_cutout_jobs(local_run):
    run, _, _ = local_run
    new = write_sample(run / "new_imgs", 24, 32, seed=8, first_id=20000)
    new[["objID"]].to_csv(run / "new.csv", index=False)
    (run / "apply.yaml").write_text("apply: {catalog: new.csv, images: new_imgs, name: new}\n")
    jobs = dry_run_jobs(run, "--cores", "1", "apply", *APPLY)
    assert (
        jobs["apply_cutouts_local"] == 1
        and "apply_cutouts_render" not in jobs
        and "train_cnn" not in jobs
    )
    snakemake(run, "--cores", "2", "apply", *APPLY)
    table = pd.read_parquet(run / "results" / "apply" / "new.parquet")
    assert table["objID"].tolist() == new["objID"].tolist() and (table["status"] == "ok").all()
    assert table["oh_p50_pred"].between(7.5, 10.0).all() and (table["oh_p50_n_models"] > 0).all()

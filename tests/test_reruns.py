"""Reruns on a finished tiny run: a change reruns exactly the jobs that use it, and what reads their outputs.

Each test copies the session's finished run and asks a dry run what would execute; the set of jobs
a change triggers is compared with the jobs downstream of the rule that uses the changed setting
(`--forcerun RULE` marks exactly that rule and its descendants). Changed settings go in an extra
config file: `--config` would pass nested values as strings (rf={n_estimators: 17} -> '17')."""

from __future__ import annotations

import pytest
from conftest import REPO, TINY, copy_finished, dry_run_jobs

pytestmark = pytest.mark.e2e

CONFIG = ("--configfile", str(TINY.relative_to(REPO)))
TARGETS = {"all", "figures", "tables_html"}
UPSTREAM = {"catalog_mock", "cutouts_render", "images_pack", "images_downsample", "splits"}


@pytest.fixture
def finished(tiny_run, tmp_path):
    return copy_finished(tiny_run, tmp_path / "wf")


def changed(workdir, settings: str) -> dict[str, int]:
    """The jobs a dry run plans once ``settings`` (YAML) are laid over the tiny configuration."""
    (workdir / "changed.yaml").write_text(settings)
    return dry_run_jobs(workdir, *CONFIG, "changed.yaml")


def descendants(workdir, rule: str) -> dict[str, int]:
    """The jobs of ``rule`` and everything downstream of them."""
    return dry_run_jobs(workdir, *CONFIG, "--forcerun", rule)


def test_nothing_to_do_when_nothing_changed(finished):
    assert dry_run_jobs(finished, *CONFIG) == {}


def test_random_forest_settings_rerun_only_the_forest_and_its_readers(finished):
    jobs = changed(finished, "rf: {n_estimators: 17}")
    assert jobs == descendants(finished, "baselines_rf")
    assert jobs["baselines_rf"] == 2  # one per target
    assert "analysis_summary" in jobs and "figure_fig3_resolution" in jobs
    assert not set(jobs) & (
        UPSTREAM | {"train_cnn", "predict_cnn", "ensemble_folds", "baselines_mean"}
    )


def test_training_setting_reruns_training_and_downstream_only(finished):
    jobs = changed(finished, "train: {stage1: {lr: 0.05}}")
    assert jobs == descendants(finished, "train_cnn")
    # oh_p50/gri at 4 and 1 px (the resolution study), the other three pairs at 4 px; 2 folds each
    assert jobs["train_cnn"] == 10 and jobs["predict_cnn"] == 10 and jobs["ensemble_folds"] == 5
    assert "analysis_summary" in jobs
    assert not set(jobs) & (UPSTREAM | {"baselines_rf", "baselines_mean"})


def test_headline_choice_reruns_only_what_shows_the_headline(finished):
    jobs = changed(finished, "analysis: {predictions: ensemble}")
    assert jobs == descendants(finished, "analysis_headline")
    assert (
        jobs["analysis_headline"] == 4
        and "analysis_mmr" in jobs
        and "figure_fig2_predicted_vs_true" in jobs
    )
    assert not set(jobs) & (
        UPSTREAM | {"train_cnn", "predict_cnn", "ensemble_folds", "baselines_rf", "baselines_mean"}
    )


def test_prediction_setting_keeps_the_trained_models(finished):
    jobs = changed(finished, "predict: {tta: false}")
    assert jobs == descendants(finished, "predict_cnn")
    assert "train_cnn" not in jobs and jobs["predict_cnn"] == 10


def test_settings_that_do_not_change_results_rerun_nothing(finished):
    assert (
        changed(
            finished,
            "predict: {batch_size: 128}\nresources: {train: {threads: 2, mem_mb: 3000, runtime: 20, gpu: 1}}\n",
        )
        == {}
    )


def test_new_resolution_adds_only_its_jobs(finished):
    # tiny.yaml's resolution study (oh_p50 from gri) runs at 4 and 1 px; 2 px is new, 4 px stays the top.
    jobs = changed(finished, "resolutions: [4, 2, 1]")
    rerun = {k: v for k, v in jobs.items() if k not in TARGETS}
    assert rerun == {
        "images_downsample": 1,
        "train_cnn": 2,
        "predict_cnn": 2,
        "ensemble_folds": 1,
        "calibrate_uncertainty": 1,
        "uncertainty_table": 1,
        "analysis_headline": 1,
        "analysis_summary": 1,
        "figure_fig3_resolution": 1,
        "figure_fig_training": 1,
        "table_html_summary": 1,
        "table_html_uncertainty": 1,
    }


def test_extending_the_resolution_study_trains_only_the_new_models(finished):
    # The three pairs outside the study were trained at 4 px only; 1 px is new for each.
    jobs = changed(finished, "resolution_study: {targets: [oh_p50, lgm_tot_p50], bands: [gri, r]}")
    rerun = {k: v for k, v in jobs.items() if k not in TARGETS}
    assert rerun == {
        "train_cnn": 6,
        "predict_cnn": 6,
        "ensemble_folds": 3,
        "calibrate_uncertainty": 3,
        "uncertainty_table": 1,
        "analysis_summary": 1,
        "figure_fig_training": 1,
        "table_html_summary": 1,
        "table_html_uncertainty": 1,
    }


def test_editing_a_figure_script_reruns_only_that_figure(finished):
    script = finished / "workflow" / "scripts" / "figure_fig3_resolution.py"
    script.write_text(script.read_text() + "\n# Axis limits follow the data.\n")
    jobs = dry_run_jobs(finished, *CONFIG)
    assert set(jobs) - TARGETS == {"figure_fig3_resolution"}


def test_editing_a_package_module_reruns_the_rules_that_run_it(finished):
    """galcnn/figures/fig_mmr.py is run by figure_fig_mmr alone; galcnn/metrics.py by many rules."""
    module = finished / "galcnn" / "figures" / "fig_mmr.py"
    module.write_text(module.read_text() + "\nLABEL_PAD = 4\n")
    assert set(dry_run_jobs(finished, *CONFIG)) - TARGETS == {"figure_fig_mmr"}


def test_a_comment_in_a_package_module_reruns_nothing(finished):
    module = finished / "galcnn" / "metrics.py"
    module.write_text(module.read_text() + "\n# NMAD is 1.4826 x the median absolute deviation.\n")
    assert dry_run_jobs(finished, *CONFIG) == {}


def test_where_the_published_files_come_from_reruns_nothing(finished):
    moved = 'reference: {url: "https://mirror.example.org/galaxy-cnns", local_dir: elsewhere, retries: 9, timeout: 5.0}'
    assert changed(finished, moved) == {}


def test_a_new_published_checksum_refetches_and_rescores_only_the_reference(finished):
    import yaml

    files = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["reference"]["files"]
    files[0]["sha256"] = "0" * 64
    jobs = changed(finished, yaml.safe_dump({"reference": {"files": files}}))
    assert jobs == descendants(finished, "reference_fetch")
    assert set(jobs) - TARGETS == {
        "reference_fetch",
        "reference_comparison",
        "analysis_summary",
        "figure_fig3_resolution",
        "figure_fig2_published",
        "table_html_summary",
        "table_html_reference_comparison",
    }

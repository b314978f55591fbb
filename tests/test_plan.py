"""The run a config asks for (galcnn.pipeline.plan): models, figures, comparisons, bundle and apply files,
and the checks of keys that must agree, on the shipped configurations."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from galcnn import paths
from galcnn.config import check_config
from galcnn.pipeline.plan import Plan, canonical

REPO = Path(__file__).resolve().parents[1]


def load(*overlays, **changes):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for overlay in overlays:
        update_config(config, yaml.safe_load((REPO / overlay).read_text()))
    update_config(config, changes)
    return config


def test_the_paper_trains_every_resolution_only_for_the_resolution_study():
    plan = Plan(load())
    keys = plan.cnn_keys()
    # oh_p50 from gri at eight resolutions, then one top-resolution model per other pair.
    assert keys[:8] == [["oh_p50", "gri", r] for r in (128, 64, 32, 16, 8, 4, 2, 1)]
    assert keys[8:] == [
        ["oh_p50", "r", 128],
        ["lgm_tot_p50", "gri", 128],
        ["lgm_tot_p50", "r", 128],
    ]
    assert plan.model_resolutions("lgm_tot_p50", "gri") == [128]
    assert plan.folds() == [0, 1, 2, 3, 4]
    assert plan.baseline_keys() == [
        ["rf", "oh_p50"],
        ["rf", "lgm_tot_p50"],
        ["mean", "oh_p50"],
        ["mean", "lgm_tot_p50"],
    ]


def test_main_bands_are_the_colour_images_when_configured():
    assert Plan(load()).main_bands == "gri"
    assert Plan(load(bands=["r"])).main_bands == "r"
    plan = Plan(load(bands=["r"]))
    assert plan.main_predictions("oh_p50") == paths.HEADLINE.format(
        target="oh_p50", bands="r", res=128
    )
    assert plan.calibration_figure_keys() == [["oh_p50", "r", 128], ["lgm_tot_p50", "r", 128]]


def test_shard_and_partition_ids_are_zero_padded():
    plan = Plan(load(cutouts={"shards": 3}, query={"partitions": 2}))
    assert plan.shard_ids() == ["000", "001", "002"]
    assert plan.part_ids() == ["000", "001"]


def test_the_published_comparison_needs_the_same_target_bands_and_resolutions():
    plan = Plan(load())
    assert plan.reference_resolutions() == [128, 64, 32, 16]
    assert plan.compared_resolutions() == [128, 64, 32, 16]
    assert plan.compared_predictions()[-1] == paths.PREDICTIONS.format(
        target="oh_p50", bands="gri", res=16
    )
    assert "fig_reference_comparison" in plan.figure_names()
    # The published target trained at the top resolution only: one resolution to compare.
    narrow = Plan(load(resolution_study={"targets": [], "bands": []}))
    assert narrow.compared_resolutions() == [128]
    # Not trained from the published bands: nothing to compare, and no comparison figure.
    other = Plan(load(bands=["r"]))
    assert other.compared_resolutions() == []
    assert "fig_reference_comparison" not in other.figure_names()
    off = Plan(load(reference={"enabled": False}))
    assert off.reference_resolutions() == [] and off.reference_inputs() == {}
    assert "fig2_published" not in off.figure_names()


def test_figures_follow_the_targets_and_the_survey():
    assert Plan(load("config/demo.yaml")).figure_names() == [
        "fig1_gallery",
        "fig2_predicted_vs_true",
        "fig3_resolution",
        "fig_mmr",
        "fig_diagnostic",
        "fig4_mass",
        "fig_training",
        "fig2_published",  # the published figure; no comparison: mock galaxies are not among them
    ]
    mass_only = Plan(load("config/demo.yaml", targets=["lgm_tot_p50"]))
    assert (
        mass_only.figure_names() == ["fig_training", "fig2_published"] and not mass_only.has_mmr()
    )
    # Real SDSS with the reference: the published figure and the comparison come last.
    assert Plan(load()).figure_names()[-2:] == ["fig2_published", "fig_reference_comparison"]


def test_split_settings_name_test_set_only_when_it_is_not_the_default():
    assert Plan(load()).split_settings() == {"folds": 5, "seed": 42, "test_fraction": 0.2}
    assert Plan(load(test_set="reference")).split_settings()["test_set"] == "reference"


def test_bundles_carry_what_the_analysis_reads():
    plan = Plan(load("tests/config/tiny.yaml"))
    inputs = plan.bundle_inputs()
    n_keys = len(plan.cnn_keys())
    assert len(inputs["predictions"]) == 2 * n_keys
    assert len(inputs["models"]) == 3 * n_keys * 2  # config, history, metrics per fold model
    assert paths.GALLERY in inputs["images"] and inputs["catalog"] == [paths.CATALOG]
    assert inputs["reference"] == [*plan.reference_tables().values(), plan.reference_status()]
    assert len(inputs["reference"]) == 5  # four published resolutions and their status
    assert plan.bundle_tables()[-2:] == [paths.MMR_CSV, paths.REFERENCE_COMPARISON]
    assert list(plan.bundle_columns()) == [paths.CATALOG]
    with_weights = Plan(load("tests/config/tiny.yaml", bundle={"include_models": True}))
    assert len(with_weights.bundle_inputs()["models"]) == 4 * n_keys * 2


def test_apply_paths_are_the_package_patterns_filled_with_the_catalogue_name():
    plan = Plan(load("tests/config/tiny.yaml", apply={"catalog": "dir/new_galaxies.csv"}))
    apply = plan.apply()
    assert (apply.name, apply.bands, apply.res) == ("new_galaxies", "gri", 4)
    assert apply.catalog == "results/apply/new_galaxies/catalog.parquet"
    assert apply.manifest == "results/apply/new_galaxies/cutouts/shard000.manifest.parquet"
    assert apply.images == "results/apply/new_galaxies/images/128px.npy"
    assert apply.predictions == "results/apply/new_galaxies/predictions/{target}.parquet"
    assert (apply.table, apply.csv) == (
        "results/apply/new_galaxies.parquet",
        "results/apply/new_galaxies.csv",
    )
    assert apply.model("oh_p50") == "results/export/oh_p50/gri/4px/model.json"
    named = Plan(load(apply={"catalog": "a.csv", "name": "b", "bands": "r", "resolution": 64}))
    assert (named.apply().name, named.apply().bands, named.apply().res) == ("b", "r", 64)


def test_service_params_hold_only_what_changes_the_cutouts():
    plan = Plan(load())
    framing = ["framing", "framing_factor"]
    assert list(plan.cutout_service()) == ["data_release", *framing, "opt", "scale", "size"]
    assert list(plan.mock_render()) == [*framing, "scale", "seed", "size"]
    # The user's own images are taken as they are framed: none is dropped for want of petroR90_r.
    assert plan.framing()["framing"] == "petrosian" and plan.framing("images")["framing"] == "fixed"
    assert plan.framing("local")["framing"] == "fixed"
    assert canonical({"b": [{"y": 1, "x": 2}], "a": (1,)}) == {"a": [1], "b": [{"x": 2, "y": 1}]}


def test_casjobs_runs_only_for_the_real_survey_and_never_for_a_bundle():
    casjobs = {"casjobs": {"enabled": True}}
    assert Plan(load(query=casjobs)).casjobs_targets() == [paths.CASJOBS_RECORD]
    assert Plan(load(query=casjobs, survey="mock")).casjobs_targets() == []
    assert Plan(load(query=casjobs, bundle={"source": "b.tar"})).casjobs_targets() == []


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"resolutions": [128, 48]},
            r"config 'resolutions' has \[48\]: every resolution must divide cutouts.size=128 px",
        ),
        (
            {"resolutions": [256, 128]},
            r"config 'resolutions' has \[256\]",
        ),
        (
            {
                "reference": {
                    "files": [
                        {"resolution": 64, "name": "a.csv", "sha256": "0" * 64},
                        {"resolution": 64, "name": "b.csv", "sha256": "1" * 64},
                    ]
                }
            },
            r"'reference.files' lists a resolution twice \(\[64, 64\]\); give one file per resolution",
        ),
        (
            {"test_set": "reference", "survey": "mock"},
            r"'test_set: reference' .* needs survey: sdss \(here 'mock'\) and reference.enabled: true",
        ),
        (
            {"test_set": "reference", "reference": {"enabled": False}},
            r"reference.enabled: true \(here False\)",
        ),
        (
            {"analysis": {"fold": 5}},
            r"config 'analysis.fold' is 5 but there are only 5 folds \(0..4\)",
        ),
        (
            {"apply": {"catalog": "new.csv", "resolution": 64}},
            r"config apply asks for models from gri images at 64 px, which are not trained for "
            r"\['lgm_tot_p50'\]; trained: .*Set apply.bands and apply.resolution",
        ),
        (
            {"apply": {"catalog": "new.csv", "bands": "u"}},
            r"models from u images at 128 px, which are not trained for \['oh_p50', 'lgm_tot_p50'\]",
        ),
    ],
)
def test_keys_that_must_agree_are_checked_naming_them(changes, message):
    config = load(**copy.deepcopy(changes))
    with pytest.raises(ValueError, match=message):
        check_config(config)


def test_shipped_configs_and_an_apply_of_a_trained_model_pass_the_checks():
    for overlays in [(), ("config/demo.yaml",), ("tests/config/tiny.yaml",)]:
        check_config(load(*overlays))
    # The resolution study trains oh_p50 from gri at 64 px, lgm_tot_p50 only at 128 px.
    check_config(load(apply={"catalog": "new.csv", "resolution": 128}))
    check_config(load(targets=["oh_p50"], apply={"catalog": "new.csv", "resolution": 64}))

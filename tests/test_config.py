"""Every shipped configuration validates; a wrong value is refused naming its key."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "config" / "schema.yaml")


def load(*overlays):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for overlay in overlays:
        update_config(config, yaml.safe_load((REPO / overlay).read_text()))
    return config


@pytest.mark.parametrize(
    "overlay",
    [
        (),
        ("config/demo.yaml",),
        ("config/demo.yaml", "config/control.yaml"),
        ("tests/config/tiny.yaml",),
    ],
)
def test_shipped_configs_validate(overlay):
    validate(load(*overlay), SCHEMA)


def test_paper_config_holds_the_facts():
    c = load()
    assert c["survey"] == "sdss" and c["sdss"]["data_release"] == 14
    assert c["cutouts"]["size"] == 128 and c["cutouts"]["scale"] == pytest.approx(0.296)
    assert c["resolutions"] == [128, 64, 32, 16, 8, 4, 2, 1] and c["folds"] == 5
    assert c["targets"] == ["oh_p50", "lgm_tot_p50"] and c["train"]["arch"] == "resnet34"
    # Fig. 3's resolution study is metallicity from the colour images; mass and r-band models at 128 px.
    assert c["resolution_study"] == {"targets": ["oh_p50"], "bands": ["gri"]}
    assert c["query"]["cuts"]["z"] == [0.02, None]  # docs/paper.md: "z > 0.2" in the text is a typo
    assert c["rf"] == {"n_estimators": 40, "min_samples_leaf": 8}
    assert c["test_fraction"] == 0.2 and c["predict"]["tta"] is True
    t = c["train"]
    assert (
        t["pretrained"] == "imagenet" and t["batch_size"] == 128 and t["zoom"] == pytest.approx(1.1)
    )
    assert t["stage1"] == {"epochs": 2, "lr": 0.1}
    assert t["stage2"] == {
        "lrs": [0.001, 0.01, 0.1],
        "epochs": 1,
        "cycles": 3,
        "cycle_len": 1,
        "cycle_mult": 2,
        "warmup": 0.05,
    }
    assert c["query"]["cuts"] == {
        "petroMag_r": [10, 18],
        "u_minus_r": [0, 6],
        "modelMag": [10, 25],
        "rChi2": [None, 2],
        "zErr": [0, 0.01],
        "z": [0.02, None],
        "measured": ["oh_p50"],
    }


def test_paper_config_is_the_authors_recipe():
    """Each point where the authors' code differs from our improvements, read back from the
    resolved paper config (and the schema defaults, which keep earlier runs as they were)."""
    from galcnn.mmr import mmr_edges

    c = load()
    validate(c, SCHEMA)
    t, p, a, m = c["train"], c["predict"], c["analysis"], c["mmr"]
    assert a == {"predictions": "single", "fold": 0}  # figures, gallery and MMR from one model
    assert (
        t["standardize_target"] is False
    )  # the head outputs dex, its bias starts at the training mean
    assert t["head_init"] == "kaiming" and t["stage2"]["warmup"] == pytest.approx(
        0.05
    )  # fastai 0.7
    assert t["amp"] is False
    assert (
        t["rotate"] == 10
        and t["lighting"] == pytest.approx(0.05)
        and t["zoom"] == pytest.approx(1.1)
    )
    assert p["tta"] is True and p["tta_mode"] == "fastai"
    centres = (mmr_edges(m["mass_min"], m["mass_max"], m["step"])[:-1] + m["step"] / 2).round(6)
    assert (
        centres[0] == pytest.approx(8.5)
        and centres[-1] == pytest.approx(11.3)
        and len(centres) == 15
    )
    assert m["min_mass"] == 8.5 and m["z_true"] == [8.25, 9.15] and m["min_count"] == 1
    assert c["mock"]["image_z_terms"] is True
    # Without the new keys a config validates and the schema's defaults are ours
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())["properties"]
    assert schema["train"]["properties"]["standardize_target"]["default"] is True
    assert schema["predict"]["properties"]["tta_mode"]["default"] == "dihedral"
    assert schema["analysis"]["properties"]["predictions"]["default"] == "ensemble"
    old = copy.deepcopy(c)
    for key in ("standardize_target", "head_init", "rotate", "lighting"):
        del old["train"][key]
    del old["train"]["stage2"]["warmup"], old["predict"]["tta_mode"], old["analysis"]
    validate(old, SCHEMA, set_default=False)


def test_demo_and_control_differ_only_in_the_metallicity_of_the_mock():
    demo, control = load("config/demo.yaml"), load("config/demo.yaml", "config/control.yaml")
    assert demo["mock"]["image_z_terms"] is True and control["mock"]["image_z_terms"] is False
    control["mock"]["image_z_terms"] = True
    assert control == demo


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c.update(folds="five"), "folds"),
        (lambda c: c.update(survey="sdss_dr99"), "survey"),
        (lambda c: c.update(targets=["metallicity"]), "targets"),
        (lambda c: c.update(resolutions=[128, 0]), "resolutions"),
        (lambda c: c["train"].update(batch_size=12.5), "batch_size"),
        (lambda c: c["train"].update(pretrained="yes"), "pretrained"),
        (lambda c: c["rf"].update(n_estimatorz=10), "n_estimatorz"),
        (lambda c: c.update(unknown_key=1), "unknown_key"),
        (lambda c: c["query"]["cuts"].update(z=["0.02; DROP TABLE x", None]), "z"),
        (lambda c: c["sdss"].update(url="skyserver.sdss.org"), "url"),
        (lambda c: c["resolution_study"].update(bands=["u"]), "bands"),
        (lambda c: c.update(bundle="s3://bucket/galcnn-results.tar.gz"), "bundle"),
        (lambda c: c["bundle"].update(include_models="yes"), "bundle"),
        (lambda c: c["bundle"].update(source="ftp://host/galcnn-results.tar.gz"), "bundle"),
        (lambda c: c["query"]["cuts"].update(rChi2=[None, None]), "rChi2"),  # would render "AND ()"
        (lambda c: c["query"]["cuts"].update(z=[0.02, float("inf")]), "z"),
        (lambda c: c.update(seed=2**32), "seed"),
        (lambda c: c["cutouts"].update(rate_limit=1000.0), "rate_limit"),
        (lambda c: c["cutouts"].update(concurrency=64), "concurrency"),
        (lambda c: c["cutouts"].update(timeout=1e9), "timeout"),
        (lambda c: c["reference"].update(timeout=1e9), "timeout"),
        (lambda c: c["cutouts"].update(max_failed_fraction=1.5), "max_failed_fraction"),
        (
            lambda c: c["query"]["casjobs"].update(url="http://skyserver.sdss.org/CasJobs/RestApi"),
            "url",
        ),
        (lambda c: c["predict"].update(tta_mode="flips"), "tta_mode"),
        (lambda c: c["analysis"].update(predictions="median"), "predictions"),
        (lambda c: c["train"].update(head_init="xavier"), "head_init"),
        (lambda c: c["mmr"].update(z_true=[8.25]), "z_true"),
    ],
)
def test_wrong_values_are_refused_naming_the_key(change, key):
    config = load()
    change(config)
    with pytest.raises(WorkflowError) as err:
        validate(copy.deepcopy(config), SCHEMA)
    assert key in str(err.value)


def test_command_line_values_are_typed_like_a_config_file():
    from galcnn.config import yaml_typed

    # What Snakemake's --config hands over for resolutions=[64,8] rf={n_estimators: 17} train={pretrained: false}
    given = {
        "resolutions": ["64", "8"],
        "rf": {"n_estimators": "17"},
        "train": {"pretrained": "false", "arch": "resnet18"},
    }
    assert yaml_typed(given) == {
        "resolutions": [64, 8],
        "rf": {"n_estimators": 17},
        "train": {"pretrained": False, "arch": "resnet18"},
    }
    config = load()
    update_config(config, yaml_typed(given))
    validate(config, SCHEMA)


@pytest.mark.parametrize(
    "bundle",
    [
        "",
        "results.tar.gz",
        "/data/galcnn-results-0123456789ab.tar.gz",
        "https://zenodo.org/records/1/files/galcnn-results-0123456789ab.tar.gz?download=1",
    ],
)
def test_a_bundle_is_a_local_path_or_an_http_url(bundle):
    from galcnn.config import bundle_settings

    validate(load() | {"bundle": bundle}, SCHEMA)  # as --config bundle=... gives it
    validate(load() | {"bundle": {"source": bundle, "include_models": True}}, SCHEMA)
    assert bundle_settings(bundle) == {
        "source": bundle,
        "include_models": False,
        "max_unpacked_mb": None,
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["query"]["cuts"].update(petroMag_r=[18, 10]),
            r"cut on petroMag_r is \[18, 10\]: the lower bound must be below",
        ),
        (lambda c: c["query"]["cuts"].update(zErr=[0, 0]), r"cut on zErr is \[0, 0\]"),
        (
            lambda c: c["query"]["cuts"].update(z=[float("nan"), None]),
            r"cut on z has bounds \[nan, None\]; each must be a finite number",
        ),
        (
            lambda c: c["mmr"].update(mass_min=11.5, mass_max=8.5),
            r"mmr.mass_min \(11.5\) must be below mmr.mass_max \(8.5\)",
        ),
        (lambda c: c["mmr"].update(step=float("nan")), r"mmr .* not a finite number"),
    ],
)
def test_what_the_schema_cannot_check_is_refused_naming_the_key(change, message):
    """NaN passes a JSON schema's type and range checks, and two bounds cannot be compared there."""
    from galcnn.config import check_config

    config = load()
    check_config(config)
    change(config)
    validate(copy.deepcopy(config), SCHEMA)
    with pytest.raises(ValueError, match=message):
        check_config(config)


def test_command_line_strings_that_are_not_yaml_stay_strings():
    from galcnn.config import yaml_typed

    # YAML reserves '@' and '`' and reads ': ' as a mapping; these are file names and plain text.
    given = {
        "train": {"weights_file": "@weights.pth"},
        "note": "`quoted`",
        "x": "a: b: c",
        "n": "17",
    }
    assert yaml_typed(given) == {
        "train": {"weights_file": "@weights.pth"},
        "note": "`quoted`",
        "x": "a: b: c",
        "n": 17,
    }


def test_the_schema_enums_are_the_package_constants():
    """One source of truth: the schema's target, bands and arch enums list what the package knows."""
    from galcnn.catalog import TARGETS
    from galcnn.cnn.model import ARCHS
    from galcnn.images import BANDS

    definitions = yaml.safe_load(Path(SCHEMA).read_text())["definitions"]
    assert definitions["target"]["enum"] == list(TARGETS)
    assert definitions["bands"]["enum"] == list(BANDS)
    assert definitions["arch"]["enum"] == list(ARCHS)

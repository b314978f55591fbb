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
        "lrs": [0.1, 0.1, 0.1],
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
    assert t["standardize_target"] is False  # the head outputs dex
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
    assert schema["cutouts"]["properties"]["framing"]["default"] == "fixed"
    assert schema["train"]["properties"]["drop_last"]["default"] is True
    assert schema["train"]["properties"]["zoom_p"]["default"] == 1.0
    assert schema["train"]["properties"]["zoom_whole_pixels"]["default"] is False
    old = copy.deepcopy(c)
    for key in (
        "standardize_target",
        "head_init",
        "rotate",
        "lighting",
        "zoom_p",
        "zoom_whole_pixels",
        "drop_last",
    ):
        del old["train"][key]
    del old["cutouts"]["framing"], old["cutouts"]["framing_factor"]
    del old["train"]["stage2"]["warmup"], old["predict"]["tta_mode"], old["analysis"]
    validate(old, SCHEMA, set_default=False)


# The authors' code, point by point: (config key, the value the paper config must hold, where the
# authors' code says so). download_images.py is jwuphysics/galaxy-cnns at 61f82e6 (2018-06-07);
# "notebooks" are that repository's, which the published predictions came from; fastai is 0.7.
AUTHORS_CODE = [
    # download_images.py: `--scale` is store_true with default True, so every cutout is requested at
    # scale = 2 * petroR90_r / 0.396 / width.
    ("cutouts.framing", "petrosian", "download_images.py, --scale always on"),
    ("cutouts.framing_factor", 2, "download_images.py: 2 * petroR90_r / 0.396 / width"),
    ("cutouts.size", 128, "download_images.py --width 128"),
    # Notebooks 06, 07 and 10 (all eight resolutions): `lrs = [1e-3, 1e-2, 1e-1]` is defined, then
    # `learn.fit(lr, 1)` and `learn.fit(lr, 3, cycle_len=1, cycle_mult=2)` run with the scalar
    # lr = 0.1, which fastai 0.7 repeats for every layer group.
    ("train.stage2.lrs", [0.1, 0.1, 0.1], "notebooks: learn.fit(lr, ...) with lr = 0.1"),
    ("train.stage1.lr", 0.1, "notebooks: learn.fit(lr, 2) with the body frozen"),
    ("train.stage2.epochs", 1, "notebooks: learn.fit(lr, 1)"),
    ("train.stage2.cycles", 3, "notebooks: learn.fit(lr, 3, cycle_len=1, cycle_mult=2)"),
    ("train.stage2.warmup", 0.05, "fastai 0.7 CosAnneal: iteration < nb/20 at lr/100"),
    # fastai 0.7 transforms.RandomScale(sz, max_zoom, p=0.75): new_sz = int(mult * sz), then a crop.
    ("train.zoom", 1.1, "notebooks: tfms_from_model(..., max_zoom=1.1)"),
    ("train.zoom_p", 0.75, "fastai 0.7 RandomScale p=0.75"),
    ("train.zoom_whole_pixels", True, "fastai 0.7 RandomScale: int(mult * sz)"),
    # fastai 0.7 ConvLearner: apply_init(head, kaiming_normal) zeroes every bias of the head.
    ("train.head_init", "kaiming", "fastai 0.7 ConvLearner.get_fc_layers + apply_init"),
    ("train.standardize_target", False, "notebooks: the targets in dex"),
    # fastai 0.7 dataloader.DataLoader(drop_last=False), and ImageClassifierData does not pass it.
    ("train.drop_last", False, "fastai 0.7 DataLoader drop_last=False"),
    ("train.batch_size", 128, "notebooks: bs=128 at 128 px"),
    ("train.rotate", 10, "fastai 0.7 transforms_top_down: RandomRotate(10)"),
    ("train.lighting", 0.05, "fastai 0.7 transforms_top_down: RandomLighting(0.05, 0.05)"),
    ("predict.tta_mode", "fastai", "fastai 0.7 learn.TTA(): the original + 4 augmented"),
]


@pytest.mark.parametrize("key, value, source", AUTHORS_CODE, ids=[k for k, _, _ in AUTHORS_CODE])
def test_paper_config_reads_back_as_the_authors_code(key, value, source):
    node = load()
    validate(node, SCHEMA)
    for part in key.split("."):
        node = node[part]
    assert node == (pytest.approx(value) if isinstance(value, float) else value), source


def test_paper_config_fixed_scale_is_the_texts():
    """``fixed`` framing (the text's recipe) stays one key away: 15 / 0.396 / 128 = 0.296″/px."""
    c = load()
    assert c["cutouts"]["scale"] == pytest.approx(15 / 0.396 / 128, abs=5e-4)


def test_demo_keeps_its_own_recipe_and_the_paper_framing():
    demo = load("config/demo.yaml")
    t = demo["train"]
    assert t["stage2"]["lrs"] == [0.01, 0.01, 0.002] and t["head_init"] == "pytorch"
    assert t["zoom_p"] == 1.0 and t["zoom_whole_pixels"] is False and t["drop_last"] is True
    # The mock stands in for the real sky, whose cutouts the authors framed per galaxy.
    assert demo["cutouts"]["framing"] == "petrosian" and demo["cutouts"]["framing_factor"] == 2


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
        (lambda c: c.update(reproducibility="exact"), "reproducibility"),
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
    from galcnn.pipeline.reproducibility import MODES

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    assert schema["properties"]["reproducibility"]["enum"] == list(MODES)
    assert schema["properties"]["reproducibility"]["default"] == "native"

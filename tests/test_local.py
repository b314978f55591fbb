"""survey: local: the user's catalogue checked like the others, each image checked and stored like
a download, and the stages the catalogue lacks inputs for named."""

import io

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from local_images import galaxy, write_sample
from PIL import Image

from galcnn import cutouts, images, local
from galcnn.apply import read_catalog as read_apply_catalog

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def png(pixels: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(pixels)
    (img.convert(mode) if mode else img).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def rng():
    return np.random.default_rng(3)


# ---- the catalogue -----------------------------------------------------------------------------
def test_catalog_from_two_files_keeps_other_columns_and_types_them(tmp_path):
    pd.DataFrame({"objID": [1, 2], "oh_p50": [8.9, 9.0], "note": ["a", "b"]}).to_csv(
        tmp_path / "train.csv", index=False
    )
    pd.DataFrame({"objID": [3], "oh_p50": [-9999.0], "note": ["c"]}).to_parquet(
        tmp_path / "test.parquet"
    )
    cat = local.read_catalog([tmp_path / "train.csv", tmp_path / "test.parquet"], ["oh_p50"])
    assert list(cat.columns) == ["objID", "oh_p50", "note"]
    assert cat["objID"].dtype == np.int64 and cat["oh_p50"].dtype == np.float64
    # -9999 is a missing target, left to the per-target mask, not refused.
    assert cat["oh_p50"].tolist() == [8.9, 9.0, -9999.0]


@pytest.mark.parametrize(
    "frame, message",
    [
        ({"objID": [1, 2]}, "lacks columns ['oh_p50']"),
        (
            {"objID": [1, 2, 3], "oh_p50": [8.9, np.nan, 9.0]},
            "'oh_p50' has NaN (empty) values in 1 row(s) (1;",
        ),
        ({"objID": [1, 2], "oh_p50": [8.9, "high"]}, "'oh_p50' is not a number in 1 row(s) (1;"),
        ({"objID": [1.5, 2], "oh_p50": [8.9, 9.0]}, "'objID' is not an integer in 1 row(s) (0;"),
        ({"objID": [7, 8, 7], "oh_p50": [8.9, 9.0, 9.1]}, "duplicate objIDs in 2 row(s) (0, 2;"),
        (
            {"objID": [1, 2], "oh_p50": [8.9, 9.0], "modelMag_g": [17.0, -9999.0]},
            "'modelMag_g' is -9999 (not measured) in 1 row(s) (1;",
        ),
    ],
)
def test_bad_catalogues_are_refused_naming_the_column_and_rows(tmp_path, frame, message):
    pd.DataFrame(frame).to_csv(tmp_path / "cat.csv", index=False)
    with pytest.raises(ValueError) as err:
        local.read_catalog(str(tmp_path / "cat.csv"), ["oh_p50"])
    assert message in str(err.value) and "cat.csv" in str(err.value)


def test_missing_catalogue_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="local catalogue .*nope.csv does not exist"):
        local.read_catalog(str(tmp_path / "nope.csv"), ["oh_p50"])


# ---- which stages run --------------------------------------------------------------------------
def config_for(tmp_path, columns, targets=("oh_p50",), images=True):
    pd.DataFrame({c: [1] for c in columns}).to_csv(tmp_path / "cat.csv", index=False)
    if images:
        (tmp_path / "img").mkdir(exist_ok=True)
    local_cfg = {"catalog": str(tmp_path / "cat.csv"), "images": str(tmp_path / "img")}
    return CONFIG | {"survey": "local", "local": local_cfg, "targets": list(targets)}


def test_stages_without_their_inputs_are_named_with_the_missing_columns(tmp_path):
    skipped = local.skipped_stages(config_for(tmp_path, ["objID", "oh_p50"]))
    assert set(skipped) == {"baselines_rf", "mmr"}
    assert "modelMag_g, modelMag_r, modelMag_i" in skipped["baselines_rf"]
    assert "lgm_tot_p50" in skipped["mmr"]
    full = ["objID", "oh_p50", "lgm_tot_p50", "modelMag_g", "modelMag_r", "modelMag_i"]
    assert local.skipped_stages(config_for(tmp_path, full)) == {}
    # Another survey is not the local one's business.
    assert local.skipped_stages(CONFIG) == {}


def test_a_catalogue_without_the_target_stops_before_any_job(tmp_path):
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['lgm_tot_p50'\]"):
        local.skipped_stages(config_for(tmp_path, ["objID", "oh_p50"], ("oh_p50", "lgm_tot_p50")))


def test_a_missing_images_folder_stops_before_any_job(tmp_path):
    with pytest.raises(FileNotFoundError, match="images folder .*img does not exist"):
        local.skipped_stages(config_for(tmp_path, ["objID", "oh_p50"], images=False))


def test_empty_local_keys_are_refused(tmp_path):
    cfg = config_for(tmp_path, ["objID", "oh_p50"])
    with pytest.raises(ValueError, match="survey: local needs local.catalog"):
        local.skipped_stages(cfg | {"local": {"catalog": "", "images": cfg["local"]["images"]}})


# ---- one image ---------------------------------------------------------------------------------
def test_image_checks_refuse_with_the_reason(rng):
    good = galaxy(32, 120, rng)
    cases = {
        b"not an image at all": "unreadable image",
        png(good[:, :30]): "image is 30x32 px, not square",
        png(galaxy(8, 120, rng)): "smaller than the largest resolution (16 px)",
        png(good, "L"): "L image; expected RGB",
    }
    for data, reason in cases.items():
        status, why, out = local.prepare_image(data, size=32, min_size=16)
        assert (status, out) == (cutouts.FAILED, None) and reason in why


def test_larger_image_is_area_averaged_to_the_cutout_size(rng):
    big = galaxy(64, 150, rng)
    status, reason, out = local.prepare_image(png(big), size=32, min_size=16)
    assert (status, reason) == (cutouts.OK, "")
    stored = np.asarray(Image.open(io.BytesIO(out)))
    assert stored.shape == (32, 32, 3)
    # The block means, up to the stored JPEG's loss (quality 95, no chroma subsampling).
    expected = images.area_average(big[None], 32)[0].astype(float)
    assert np.abs(stored - expected).mean() < 1.5


def test_jpeg_of_the_right_size_is_stored_as_it_is_and_blank_rule_applies(rng):
    buf = io.BytesIO()
    Image.fromarray(galaxy(32, 120, rng)).save(buf, format="JPEG", quality=90)
    status, _, out = local.prepare_image(buf.getvalue(), size=32, min_size=32)
    assert status == cutouts.OK and out == buf.getvalue()
    # No source at the centre: blank, by the downloads' rule, and still stored like a blank download.
    status, reason, out = local.prepare_image(png(galaxy(32, 0, rng)), size=32, min_size=32)
    assert status == cutouts.BLANK and "no source at the centre" in reason and out


# ---- a shard and the packing -------------------------------------------------------------------
def test_shard_lists_rows_without_images_and_images_without_rows(tmp_path):
    catalog = write_sample(tmp_path / "img", 6, 32, seed=1)
    (tmp_path / "img" / "1000.png").unlink()  # a row without an image
    write_sample(tmp_path / "img", 1, 32, seed=2, first_id=5000)  # an image without a row
    (tmp_path / "img" / "1001.jpg").write_bytes(b"\xff\xd8 broken")  # two images of one galaxy
    (tmp_path / "img" / "1002.png").write_bytes(b"garbage")  # an unreadable image
    (tmp_path / "img" / "notes.png").write_bytes(b"")  # no objID: ignored
    store = tmp_path / "store"
    manifest = local.import_shard(catalog, [tmp_path / "img"], store, 0, 1, 16, 8)
    by_id = manifest.set_index("objID")
    assert (
        by_id.loc[1000, "status"] == "failed"
        and "no image 1000.jpg|jpeg|png" in by_id.loc[1000, "reason"]
    )
    assert (
        by_id.loc[1001, "status"] == "failed"
        and "2 images of one galaxy" in by_id.loc[1001, "reason"]
    )
    assert by_id.loc[1002, "status"] == "failed" and "unreadable image" in by_id.loc[1002, "reason"]
    assert by_id.loc[5000, "status"] == local.UNCATALOGUED
    assert (by_id.loc[[1003, 1004, 1005], "status"] == "ok").all()
    assert sorted(p.name for p in (store / "shard000").glob("*.jpg")) == [
        "1003.jpg",
        "1004.jpg",
        "1005.jpg",
    ]

    out = tmp_path / "packed"
    index = images.pack_cutouts(
        catalog,
        cutouts.read_manifests([cutouts.manifest_path(store, 0)]),
        store,
        1,
        16,
        out / "16px.npy",
        out / "index.parquet",
        out / "excluded.parquet",
    )
    assert index["objID"].tolist() == [1003, 1004, 1005]
    assert np.load(out / "16px.npy").shape == (3, 16, 16, 3)
    excluded = pd.read_parquet(out / "excluded.parquet").set_index("objID")
    assert sorted(excluded.index) == [1000, 1001, 1002, 5000]
    assert "objID not in the catalogue" in excluded.loc[5000, "reason"]


def test_missing_images_folder_fails_the_shard(tmp_path):
    catalog = pd.DataFrame({"objID": [1], "oh_p50": [9.0]})
    with pytest.raises(FileNotFoundError, match="images folder .*missing does not exist"):
        local.import_shard(catalog, [tmp_path / "missing"], tmp_path / "store", 0, 1, 16, 8)


# ---- apply with images -------------------------------------------------------------------------
def test_apply_catalogue_with_images_needs_objid_not_positions(tmp_path):
    pd.DataFrame({"objID": [5, 6], "z": [0.1, 0.2]}).to_csv(tmp_path / "new.csv", index=False)
    cat = read_apply_catalog(tmp_path / "new.csv", ["oh_p50"], positions=False)
    assert cat["objID"].tolist() == [5, 6]
    pd.DataFrame({"z": [0.1]}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['objID'\]"):
        read_apply_catalog(tmp_path / "noid.csv", positions=False)
    with pytest.raises(ValueError, match="set apply.images"):
        local.apply_source(
            CONFIG | {"survey": "local", "apply": CONFIG["apply"] | {"catalog": "x.csv"}}
        )
    assert local.apply_source(CONFIG | {"apply": CONFIG["apply"] | {"images": "imgs"}}) == "images"


def test_images_are_found_across_several_folders(tmp_path):
    # convnet-demo keeps its images in train/ and test/: local.images lists both.
    train = write_sample(tmp_path / "train", 3, 16, seed=1)
    test = write_sample(tmp_path / "test", 2, 16, seed=2, first_id=2000)
    catalog = pd.concat([train, test], ignore_index=True)
    manifest = local.import_shard(
        catalog, [tmp_path / "train", tmp_path / "test"], tmp_path / "store", 0, 1, 16, 8
    )
    assert (manifest["status"] == "ok").all() and sorted(manifest["objID"]) == sorted(
        catalog["objID"]
    )

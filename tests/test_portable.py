"""Exported model folders: model.json, the sha256 checks, and predictions without the workflow."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import SETTINGS

import galcnn
from galcnn import images
from galcnn.cnn import portable
from galcnn.cnn.model import ResNetRegressor
from galcnn.cnn.predict import load_model, predict_transforms

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def train_outputs(tmp_path, folds=2, res=4, bands="gri"):
    """Fold model.pt and config.json files as training writes them (untrained weights)."""
    models, configs = {}, {}
    for k in range(folds):
        torch.manual_seed(k)
        model = ResNetRegressor("resnet18")
        model.y_mean.fill_(8.9 + 0.01 * k)
        model.y_std.fill_(0.2)
        path = tmp_path / f"fold{k}" / "model.pt"
        path.parent.mkdir(parents=True)
        torch.save(
            {
                "arch": "resnet18",
                "state_dict": model.state_dict(),
                "target": "oh_p50",
                "bands": bands,
                "res": res,
                "fold": k,
                "train": SETTINGS,
            },
            path,
        )
        models[k] = path
        configs[k] = {
            "target": "oh_p50",
            "bands": bands,
            "res": res,
            "fold": k,
            "seed": 1,
            "train": SETTINGS,
            "n_train": 50,
            "n_validation": 50,
            "reproducibility": {"mode": "portable", "cpu_capability": "AVX2"},
        }
    return models, configs


UNCERTAINTY = {"factor": 2.5, "n_validation": 100, "n_test": 40, "test_coverage_1sigma": 0.7}
TEST = pd.DataFrame({"objID": [1, 2, 3], "true": [8.8, 9.0, 9.1], "pred": [8.9, 9.0, 9.0]})


@pytest.fixture
def exported(tmp_path):
    models, configs = train_outputs(tmp_path)
    folder = tmp_path / "export"
    portable.export_model(
        folder, models, configs, TEST, UNCERTAINTY, tta=True, tta_mode="dihedral", threads=1
    )
    return folder, models


def test_model_json_describes_the_folder(exported):
    folder, models = exported
    meta = json.loads((folder / "model.json").read_text())
    assert (meta["target"], meta["bands"], meta["resolution"]) == ("oh_p50", "gri", 4)
    assert meta["architecture"]["arch"] == "resnet18" and meta["input"]["dtype"] == "uint8"
    assert meta["calibration"]["factor"] == 2.5 and meta["tta"] == {
        "enabled": True,
        "mode": "dihedral",
        "n": 8,
    }
    assert meta["target_scaling"]["folds"]["1"] == {
        "y_mean": pytest.approx(8.91),
        "y_std": pytest.approx(0.2),
    }
    assert meta["test_metrics"]["n"] == 3 and meta["test_metrics"]["rmse"] == pytest.approx(
        np.sqrt(0.02 / 3)
    )
    assert meta["training"]["settings"] == SETTINGS and "torch" in meta["versions"]
    assert meta["threads"] == 1
    assert meta["reproducibility"]["1"] == {"mode": "portable", "cpu_capability": "AVX2"}
    assert set(meta["files"]) == {"fold0.pt", "fold1.pt"}
    assert (folder / "fold1.pt").read_bytes() == models[1].read_bytes()


def test_predictions_are_the_mean_and_calibrated_spread_of_every_fold_and_transform(exported):
    folder, models = exported
    model = galcnn.load(folder, device="cpu")
    rgb = np.random.default_rng(0).integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    out = model.predict(rgb, batch_size=4)
    per_fold = [
        predict_transforms(load_model(models[k], CPU)[0], rgb, np.arange(6), "gri", 6, CPU)
        for k in (0, 1)
    ]
    stacked = np.concatenate(per_fold)  # 16 predictions per galaxy
    np.testing.assert_allclose(out["pred"], stacked.mean(axis=0), rtol=1e-12)
    spread = np.sqrt((per_fold[0].var(axis=0) + per_fold[1].var(axis=0)) / 2)
    np.testing.assert_allclose(out["sigma_raw"], spread, rtol=1e-9)
    np.testing.assert_allclose(out["sigma"], 2.5 * spread, rtol=1e-9)
    assert (out["n_models"] == 16).all()
    # One image without the batch axis, and a 32 px image area-averaged to the model's 4 px as in training.
    one = model.predict(rgb[2])
    assert one["pred"].iloc[0] == pytest.approx(out["pred"].iloc[2], rel=1e-9)
    big = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        model.predict(big)["pred"], model.predict(images.area_average(big, 4))["pred"], rtol=1e-12
    )


def test_bad_images_are_refused_with_what_is_expected(exported):
    model = portable.load(exported[0], device="cpu")
    with pytest.raises(ValueError, match="uint8 RGB arrays"):
        model.predict(np.zeros((2, 4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="give a multiple of 4 px"):
        model.predict(np.zeros((2, 6, 6, 3), dtype=np.uint8))


def test_a_changed_weight_file_is_refused_naming_it(exported):
    folder, _ = exported
    data = bytearray((folder / "fold1.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "fold1.pt").write_bytes(bytes(data))
    with pytest.raises(
        portable.ModelFolderError,
        match=r"fold1.pt does not match .*model.json.*sha256.*export the model again",
    ):
        galcnn.load(folder)


def test_a_missing_weight_file_or_model_json_is_refused(exported):
    folder, _ = exported
    (folder / "fold0.pt").unlink()
    with pytest.raises(
        portable.ModelFolderError, match=r"fold0.pt is listed in .*model.json but missing"
    ):
        portable.load(folder)
    (folder / "model.json").unlink()
    with pytest.raises(
        portable.ModelFolderError, match="has no model.json: not an exported model folder"
    ):
        portable.load(folder)


def test_a_model_json_of_another_format_is_refused(exported):
    folder, _ = exported
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(meta | {"format_version": 99}))
    with pytest.raises(portable.ModelFolderError, match="version 99"):
        portable.load(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(portable.ModelFolderError, match="not a galcnn model description"):
        portable.load(folder)


def test_without_a_factor_sigma_is_nan(tmp_path):
    models, configs = train_outputs(tmp_path, res=1)
    portable.export_model(
        tmp_path / "e",
        models,
        configs,
        TEST,
        {"factor": None},
        tta=True,
        tta_mode="dihedral",
        threads=1,
    )
    out = portable.load(tmp_path / "e", "cpu").predict(np.full((2, 1, 1, 3), 30, dtype=np.uint8))
    # At 1 px the transforms are one image: no spread, and no factor to scale it.
    assert (
        out["sigma"].isna().all() and (out["n_models"] == 2).all() and (out["sigma_raw"] == 0).all()
    )


def test_predict_packed_keeps_the_index_order(exported, tmp_path):
    model = portable.load(exported[0], "cpu")
    rgb = np.random.default_rng(2).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "8px.npy", rgb)
    pd.DataFrame({"objID": [50, 40, 30, 20, 10], "row": [4, 3, 2, 1, 0]}).to_parquet(
        tmp_path / "index.parquet"
    )
    out = portable.predict_packed(model, tmp_path / "8px.npy", tmp_path / "index.parquet")
    assert list(out["objID"]) == [10, 20, 30, 40, 50]
    np.testing.assert_allclose(out["pred"], model.predict(rgb)["pred"])


def test_predict_runs_under_model_json_threads_and_restores_the_callers(exported, monkeypatch):
    """The rounding of CPU convolutions depends on torch's thread count: predict uses model.json's
    (the workflow's), or the one given to load, and leaves the caller's setting as it was."""
    folder, _ = exported
    seen = []
    real = portable.predict_transforms

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(portable, "predict_transforms", spy)
    rgb = np.random.default_rng(3).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    torch.set_num_threads(2)
    model = galcnn.load(folder, device="cpu")
    assert model.threads == 1
    model.predict(rgb)
    assert seen == [1, 1] and torch.get_num_threads() == 2
    seen.clear()
    torch.set_num_threads(1)
    galcnn.load(folder, device="cpu", threads=2).predict(rgb)
    assert seen == [2, 2] and torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="thread count must be at least 1, got 0"):
        galcnn.load(folder, device="cpu", threads=0).predict(rgb)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["tta"].update(enabled="false"), r"tta.enabled is 'false', not true or false"),
        (lambda m: m["tta"].update(mode="flip"), r"tta.mode is 'flip', not one of"),
        (lambda m: m["calibration"].update(factor=-1.0), r"calibration.factor is -1.0"),
        (lambda m: m["calibration"].update(factor=float("inf")), r"calibration.factor is inf"),
        (lambda m: m.update(resolution="4"), r"resolution is '4', not a whole number"),
        (lambda m: m.update(bands="ugriz"), r"bands is 'ugriz', not one of"),
        (lambda m: m.pop("tta"), r"lacks tta; export the model again"),
        (lambda m: m["calibration"].pop("factor"), r"lacks calibration.factor"),
        (
            lambda m: m["files"].update({"../fold0.pt": m["files"]["fold0.pt"]}),
            r"files entry = '\.\./fold0.pt' is not a plain name",
        ),
        (
            lambda m: m.update(files={"/etc/passwd": {"bytes": 1, "sha256": "0"}}),
            r"files entry = '/etc/passwd' is not a plain name",
        ),
        (lambda m: m.update(files={}), r"files is \{\}, not a mapping"),
    ],
)
def test_a_model_json_with_a_bad_value_is_refused_naming_it(exported, edit, message):
    folder, _ = exported
    meta = json.loads((folder / "model.json").read_text())
    edit(meta)
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(portable.ModelFolderError, match=message):
        portable.load(folder, "cpu")


def test_a_batch_size_below_one_is_refused(exported):
    model = portable.load(exported[0], device="cpu")
    for size in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=rf"batch_size is {size!r}; give a whole number"):
            model.predict(np.zeros((2, 4, 4, 3), dtype=np.uint8), batch_size=size)

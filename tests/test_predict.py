"""Test-time augmentation, the prediction files and the fold ensemble."""

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import SETTINGS, synthetic_survey
from torch import nn

from galcnn.cnn import data
from galcnn.cnn.augment import N_DIHEDRAL, dihedral
from galcnn.cnn.model import ResNetRegressor
from galcnn.cnn.predict import PREDICTION_COLUMNS, predict_cnn, predict_rows
from galcnn.ensemble import ensemble_folds, headline

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


class PooledLinear(nn.Module):
    """Global average pooling then a linear map: invariant to every dihedral transform."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, x):
        return self.fc(x.mean((2, 3))).squeeze(1)


class Recorder(nn.Module):
    """Remembers its inputs; answers with a fixed random projection (not invariant)."""

    def __init__(self, shape):
        super().__init__()
        self.w = torch.randn(shape)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        return (x * self.w).sum((1, 2, 3))


def random_images(n=10, res=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, res, res, 3), dtype=np.uint8)


def test_tta_of_an_invariant_model_is_the_plain_prediction():
    torch.manual_seed(0)
    model = PooledLinear()
    images = random_images()
    rows = np.array([7, 2, 5, 0, 9])
    pred, plain = predict_rows(model, images, rows, "gri", 2, CPU, tta=True)
    assert np.allclose(pred, plain, atol=1e-6)
    x = data.to_model_input(torch.from_numpy(images[rows]), "gri")
    with torch.no_grad():
        assert np.allclose(plain, model(x).numpy(), atol=1e-6)  # in the order of rows


def test_tta_visits_all_eight_transforms_and_averages_them():
    torch.manual_seed(0)
    images = random_images(n=1)
    model = Recorder((1, 3, 5, 5))
    pred, plain = predict_rows(model, images, np.array([0]), "gri", 4, CPU, tta=True)
    assert len(model.seen) == N_DIHEDRAL
    for i in range(N_DIHEDRAL):
        for j in range(i):
            assert not torch.equal(model.seen[i], model.seen[j])
    x = data.to_model_input(torch.from_numpy(images), "gri")
    outs = [float((dihedral(x, k) * model.w).sum()) for k in range(N_DIHEDRAL)]
    assert pred[0] == pytest.approx(np.mean(outs), rel=1e-5)
    assert plain[0] == pytest.approx(outs[0], rel=1e-5)
    model.seen.clear()
    pred, plain = predict_rows(model, images, np.array([0]), "gri", 4, CPU, tta=False)
    assert len(model.seen) == 1 and pred[0] == plain[0]


def test_tta_of_one_pixel_images_runs_the_model_once():
    # All eight transforms of a 1 x 1 image are the image itself.
    images = random_images(n=3, res=1)
    model = Recorder((1, 3, 1, 1))
    pred, plain = predict_rows(model, images, np.array([2, 0, 1]), "gri", 8, CPU, tta=True)
    assert len(model.seen) == 1
    np.testing.assert_array_equal(pred, plain)
    x = data.to_model_input(torch.from_numpy(images[[2, 0, 1]]), "gri")
    assert np.allclose(plain, (x * model.w).sum((1, 2, 3)).numpy(), atol=1e-6)


def test_fastai_tta_is_the_original_and_four_augmented_copies_independent_of_the_batch_size():
    images = random_images(n=7, res=8)
    model = Recorder((1, 3, 8, 8))
    augment = {"max_zoom": 1.1, "rotate": 10.0, "lighting": 0.05}
    rows = np.arange(7)
    pred, plain = predict_rows(
        model, images, rows, "gri", 7, CPU, tta_mode="fastai", augment=augment, seed=3
    )
    assert len(model.seen) == 5  # one batch: the original, then 4 augmented copies
    x = data.to_model_input(torch.from_numpy(images), "gri")
    assert torch.equal(model.seen[0], x)
    assert all(not torch.allclose(model.seen[k], x) for k in range(1, 5))
    outs = torch.stack([(s * model.w).sum((1, 2, 3)) for s in model.seen]).numpy()
    np.testing.assert_allclose(pred, outs.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(plain, outs[0], rtol=1e-5)
    small, _ = predict_rows(
        model, images, rows, "gri", 3, CPU, tta_mode="fastai", augment=augment, seed=3
    )
    np.testing.assert_allclose(small, pred, rtol=1e-5)
    other, _ = predict_rows(
        model, images, rows, "gri", 7, CPU, tta_mode="fastai", augment=augment, seed=4
    )
    assert not np.allclose(other, pred)
    with pytest.raises(ValueError, match="tta_mode"):
        predict_rows(model, images, rows, "gri", 7, CPU, tta_mode="flips")
    with pytest.raises(ValueError, match="augment"):
        predict_rows(model, images, rows, "gri", 7, CPU, tta_mode="fastai")


def test_r_band_input_is_the_green_channel_everywhere():
    images = random_images(n=2)
    x = data.to_model_input(torch.from_numpy(images), "r")
    raw = x * torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) + torch.tensor(
        [0.485, 0.456, 0.406]
    ).view(1, 3, 1, 1)
    for c in range(3):
        assert torch.allclose(raw[:, c] * 255, torch.from_numpy(images[..., 1]).float(), atol=1e-3)
    with pytest.raises(ValueError, match="bands 'u'"):
        data.to_model_input(torch.from_numpy(images), "u")


def test_cpu_prediction_runs_the_weights_channels_last_and_gives_them_back_unchanged():
    torch.manual_seed(0)
    model = ResNetRegressor("resnet18").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    layouts = []
    conv.register_forward_pre_hook(
        lambda m, args: layouts.append(m.weight.is_contiguous(memory_format=torch.channels_last))
    )
    images = random_images(n=6, res=16)
    pred, _ = predict_rows(model, images, np.arange(6), "gri", 4, CPU, tta=False)
    assert layouts and all(layouts)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
        assert value.is_contiguous(), name  # back in the training layout
    with torch.no_grad():
        plain = model(data.to_model_input(torch.from_numpy(images), "gri")).numpy()
    np.testing.assert_allclose(pred, plain, rtol=0, atol=1e-4)


def test_predict_cnn_writes_test_and_validation_rows(tmp_path):
    paths = synthetic_survey(tmp_path, n=80)
    model = ResNetRegressor("resnet18")
    model.y_mean.fill_(9.0)
    torch.save(
        {
            "arch": "resnet18",
            "state_dict": model.state_dict(),
            "target": "oh_p50",
            "bands": "r",
            "res": 4,
            "fold": 1,
            "train": SETTINGS,
        },
        tmp_path / "model.pt",
    )
    out = predict_cnn(
        tmp_path / "model.pt",
        paths["images"],
        paths["index"],
        paths["splits"],
        paths["catalog"],
        tmp_path / "p.parquet",
        batch_size=16,
        tta=True,
    )
    assert tuple(out.columns) == PREDICTION_COLUMNS
    assert pd.read_parquet(tmp_path / "p.parquet").equals(out)
    splits = pd.read_parquet(paths["splits"]).set_index("objID")
    val = out[out["set"] == "validation"]
    assert (splits.loc[val["objID"], "fold"] == 1).all()
    assert (splits.loc[out.loc[out["set"] == "test", "objID"], "split"] == "test").all()
    assert np.isfinite(out[["pred", "pred_notta"]]).all().all()


def fold_frame(k, test_ids, val_ids, offset):
    test = pd.DataFrame(
        {
            "objID": test_ids,
            "set": "test",
            "true": 9.0,
            "pred": 9.0 + offset,
            "pred_notta": 9.1 + offset,
        }
    )
    val = pd.DataFrame(
        {"objID": val_ids, "set": "validation", "true": 8.5, "pred": 8.6, "pred_notta": 8.7}
    )
    return pd.concat([test.sample(frac=1, random_state=k), val], ignore_index=True)


def test_ensemble_is_the_mean_over_folds():
    folds = {0: fold_frame(0, [3, 1, 2], [10, 11], 0.0), 1: fold_frame(1, [3, 1, 2], [12], 0.2)}
    test, val = ensemble_folds(folds)
    assert list(test.columns) == [
        "objID",
        "true",
        "pred_fold0",
        "pred_fold0_notta",
        "pred_fold1",
        "pred_fold1_notta",
        "pred",
        "pred_notta",
    ]
    assert list(test["objID"]) == [1, 2, 3]
    assert np.allclose(test["pred"], 9.1) and np.allclose(test["pred_notta"], 9.2)
    assert list(val.columns) == ["objID", "true", "fold", "pred", "pred_notta"]
    assert list(val["fold"]) == [0, 0, 1]
    with pytest.raises(ValueError, match="different test set"):
        ensemble_folds({0: folds[0], 1: fold_frame(1, [3, 1], [12], 0.0)})
    with pytest.raises(ValueError, match="more than one validation fold"):
        ensemble_folds({0: folds[0], 1: fold_frame(1, [3, 1, 2], [11], 0.0)})


def test_headline_is_one_folds_model_or_the_ensemble():
    test, _ = ensemble_folds(
        {0: fold_frame(0, [3, 1, 2], [10, 11], 0.0), 1: fold_frame(1, [3, 1, 2], [12], 0.2)}
    )
    single = headline(test, "single", 1)
    assert list(single.columns) == ["objID", "true", "pred", "pred_notta"]
    assert np.allclose(single["pred"], 9.2) and np.allclose(single["pred_notta"], 9.3)
    assert np.allclose(headline(test, "ensemble")["pred"], 9.1)
    with pytest.raises(
        ValueError, match=r"analysis.fold is 2 but the predictions hold folds \[0, 1\]"
    ):
        headline(test, "single", 2)
    with pytest.raises(ValueError, match="analysis.predictions"):
        headline(test, "median")

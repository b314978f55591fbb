"""Training: the RMSE loss, stage 1 freezing, resume from a checkpoint, and learning something."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from galcnn import metrics
from galcnn.catalog import SENTINEL
from galcnn.cnn import data
from galcnn.cnn.model import ResNetRegressor
from galcnn.cnn.predict import predict_rows
from galcnn.cnn.train import CHECKPOINT_NAME, fit, rmse_loss, train_cnn

SETTINGS = {
    "arch": "resnet18",
    "pretrained": False,
    "weights_file": None,
    "batch_size": 32,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "stage1": {"epochs": 1, "lr": 0.1},
    "stage2": {
        "lrs": [0.001, 0.01, 0.1],
        "epochs": 1,
        "cycles": 2,
        "cycle_len": 1,
        "cycle_mult": 1,
    },
    "zoom": 1.1,
    "rotate": 0,
    "lighting": 0.0,
    "standardize_target": True,
    "head_init": "pytorch",
    "amp": True,
}
CPU = torch.device("cpu")


def fit_fold(model, images, subsets, settings, seed, **kwargs):
    """:func:`fit` on a fold's training and validation galaxies, gri images, on the CPU."""
    return fit(
        model,
        images,
        subsets["train"],
        subsets["validation"],
        settings,
        bands="gri",
        seed=seed,
        device=CPU,
        **kwargs,
    )


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def synthetic_survey(root, n=300, res=4, folds=2, seed=0, missing=5):
    """Files as the workflow writes them, for galaxies whose brightness encodes oh_p50.

    Rows of the image array are shuffled against the catalogue (as after packing),
    ``missing`` galaxies have oh_p50 = −9999, one split galaxy has no image.
    """
    rng = np.random.default_rng(seed)
    objid = rng.choice(10**12, size=n, replace=False).astype(np.int64)
    y = rng.normal(9.0, 0.2, n)
    level = np.clip(128 + 400 * (y - 9.0), 0, 255)
    img = level[:, None, None, None] * np.array([1.0, 0.8, 0.6]) + rng.normal(
        0, 4, (n, res, res, 3)
    )
    rows = rng.permutation(n)
    images = np.zeros((n, res, res, 3), np.uint8)
    images[rows] = np.clip(img, 0, 255).astype(np.uint8)
    y_cat = y.copy()
    y_cat[:missing] = SENTINEL
    test = rng.random(n) < 0.2
    split = pd.DataFrame(
        {
            "objID": objid,
            "split": np.where(test, "test", "train"),
            "fold": np.where(test, -1, rng.integers(0, folds, n)),
        }
    )
    split = pd.concat(
        [split, pd.DataFrame({"objID": [1], "split": ["train"], "fold": [0]})], ignore_index=True
    )
    paths = {
        k: root / f"{k}.{ext}"
        for k, ext in (
            ("images", "npy"),
            ("index", "parquet"),
            ("splits", "parquet"),
            ("catalog", "parquet"),
        )
    }
    np.save(paths["images"], images)
    pd.DataFrame({"objID": objid, "row": rows.astype(np.int64)}).to_parquet(paths["index"])
    split.to_parquet(paths["splits"])
    pd.DataFrame(
        {"objID": np.append(objid, 1), "oh_p50": np.append(y_cat, 9.0), "lgm_tot_p50": 10.0}
    ).to_parquet(paths["catalog"])
    return paths


class Preempted(Exception):
    """Stands for a job killed after an epoch's checkpoint (a preempted SLURM job)."""


def load_fold(paths, fold=0):
    return data.load_fold(
        paths["images"],
        paths["index"],
        paths["splits"],
        paths["catalog"],
        target="oh_p50",
        res=4,
        fold=fold,
    )


def test_loss_is_rmse():
    pred, true = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 0.0])
    assert rmse_loss(pred, true).item() == pytest.approx(np.sqrt((0 + 4 + 16) / 3))


def test_fold_subsets_drop_missing_targets_and_images(tmp_path):
    paths = synthetic_survey(tmp_path)
    images, subsets = load_fold(paths)
    total = sum(len(s) for s in subsets.values())
    assert total == 300 - 5
    assert not set(subsets["train"].objid) & set(subsets["validation"].objid)
    assert 1 not in set(subsets["train"].objid)
    sub = subsets["validation"]
    index = pd.read_parquet(paths["index"]).set_index("objID")
    assert np.array_equal(sub.rows, index.loc[sub.objid, "row"].to_numpy())
    with pytest.raises(ValueError, match="fold 5 is not in the splits"):
        load_fold(paths, 5)


def test_stage1_leaves_the_body_unchanged(tmp_path):
    images, subsets = load_fold(synthetic_survey(tmp_path, n=120))
    model = ResNetRegressor("resnet18")
    body = {k: v.clone() for k, v in model.body.state_dict().items()}
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    only_stage1 = {**SETTINGS, "stage2": {**SETTINGS["stage2"], "epochs": 0, "cycles": 0}}
    fit_fold(
        model,
        images,
        subsets,
        only_stage1,
        seed=1,
    )
    for k, v in model.body.state_dict().items():
        assert torch.equal(v, body[k]), k  # weights and BatchNorm running statistics
    assert not all(torch.equal(v, head[k]) for k, v in model.head.state_dict().items())


def test_resume_gives_the_uninterrupted_result(tmp_path):
    images, subsets = load_fold(synthetic_survey(tmp_path, n=120))
    settings = {**SETTINGS, "batch_size": 16}
    ckpt = tmp_path / "run" / CHECKPOINT_NAME

    full = ResNetRegressor("resnet18")
    torch.manual_seed(0)
    ref_model = ResNetRegressor("resnet18")
    full.load_state_dict(ref_model.state_dict())
    ref, ref_pred = fit_fold(
        full,
        images,
        subsets,
        settings,
        seed=3,
    )

    def kill_after_two(epoch, history):
        if epoch == 1:
            raise Preempted

    first = ResNetRegressor("resnet18")
    first.load_state_dict(ref_model.state_dict())
    with pytest.raises(Preempted):
        fit_fold(
            first,
            images,
            subsets,
            settings,
            seed=3,
            checkpoint=ckpt,
            epoch_callback=kill_after_two,
        )
    assert ckpt.exists()
    seen = []
    resumed = ResNetRegressor("resnet18")
    hist, pred = fit_fold(
        resumed,
        images,
        subsets,
        settings,
        seed=3,
        checkpoint=ckpt,
        epoch_callback=lambda e, h: seen.append(e),
    )
    assert seen == [2, 3]
    pd.testing.assert_frame_equal(hist.drop(columns="seconds"), ref.drop(columns="seconds"))
    np.testing.assert_array_equal(pred, ref_pred)
    for k, v in resumed.state_dict().items():
        assert torch.equal(v, full.state_dict()[k]), k


def test_a_run_killed_after_its_last_checkpoint_still_returns_validation_predictions(tmp_path):
    images, subsets = load_fold(synthetic_survey(tmp_path, n=120))
    settings = {
        **SETTINGS,
        "batch_size": 16,
        "stage2": {**SETTINGS["stage2"], "epochs": 0, "cycles": 1},
    }
    ckpt = tmp_path / "run" / CHECKPOINT_NAME
    torch.manual_seed(0)
    model = ResNetRegressor("resnet18")

    def kill_at_the_end(epoch, history):
        if epoch == 1:
            raise Preempted

    with pytest.raises(Preempted):
        fit_fold(
            model,
            images,
            subsets,
            settings,
            seed=3,
            checkpoint=ckpt,
            epoch_callback=kill_at_the_end,
        )
    resumed = ResNetRegressor("resnet18")
    hist, pred = fit_fold(
        resumed,
        images,
        subsets,
        settings,
        seed=3,
        checkpoint=ckpt,
    )
    assert list(hist["epoch"]) == [0, 1]
    val = subsets["validation"]
    expected, _ = predict_rows(model, images, val.rows, "gri", 64, CPU, tta=False)
    np.testing.assert_allclose(pred, expected, rtol=1e-5)
    assert hist["val_loss"].iloc[-1] == pytest.approx(metrics.rmse(pred, val.y), rel=1e-5)


def test_training_beats_the_mean_and_writes_outputs(tmp_path):
    paths = synthetic_survey(tmp_path, n=400)
    out = {
        k: tmp_path / "model" / name
        for k, name in (
            ("model", "model.pt"),
            ("config", "config.json"),
            ("history", "history.csv"),
            ("metrics", "metrics.json"),
        )
    }
    # From scratch a frozen random body teaches little and RMSE's scale-free gradient
    # overshoots at the paper's rates in a few dozen steps: small rates, no stage 1.
    settings = {
        **SETTINGS,
        "batch_size": 16,
        "stage1": {"epochs": 0, "lr": 0.001},
        "stage2": {
            "lrs": [0.001, 0.001, 0.001],
            "epochs": 2,
            "cycles": 1,
            "cycle_len": 3,
            "cycle_mult": 1,
        },
    }
    result = train_cnn(
        paths["images"],
        paths["index"],
        paths["splits"],
        paths["catalog"],
        out,
        target="oh_p50",
        bands="gri",
        res=4,
        fold=1,
        settings=settings,
        seed=42,
    )
    _, subsets = load_fold(paths, 1)
    val = subsets["validation"]
    mean_rmse = metrics.rmse(np.full(len(val), subsets["train"].y.mean()), val.y)
    assert result["rmse"] < 0.75 * mean_rmse
    assert json.loads(out["metrics"].read_text()) == result
    assert json.loads(out["config"].read_text())["n_validation"] == len(val) == result["n"]
    history = pd.read_csv(out["history"])
    assert list(history["phase"]) == ["stage2", "stage2", "sgdr", "sgdr", "sgdr"] and list(
        history["epoch"]
    ) == [0, 1, 2, 3, 4]
    assert list(history["lr"]) == pytest.approx([0.001, 0.001, 0.001, 0.00075, 0.00025])
    assert not (out["model"].parent / CHECKPOINT_NAME).exists()


def test_the_authors_recipe_regresses_in_dex_from_the_training_mean(tmp_path):
    """standardize_target false: the head outputs dex (no rescaling buffers) from a last bias at
    the training mean, with Kaiming head weights, fastai warm-up, rotation and lighting; at a
    negligible rate nothing moves, so what is measured is the starting point itself."""
    paths = synthetic_survey(tmp_path, n=200)
    images, subsets = load_fold(paths, 1)
    settings = {
        **SETTINGS,
        "batch_size": 16,
        "standardize_target": False,
        "head_init": "kaiming",
        "rotate": 10,
        "lighting": 0.05,
        "amp": False,
        "stage1": {"epochs": 0, "lr": 1e-12},
        "stage2": {
            "lrs": [1e-12, 1e-12, 1e-12],
            "epochs": 0,
            "cycles": 1,
            "cycle_len": 1,
            "cycle_mult": 1,
            "warmup": 0.05,
        },
    }
    torch.manual_seed(0)
    model = ResNetRegressor("resnet18")
    hist, pred = fit_fold(
        model,
        images,
        subsets,
        settings,
        seed=3,
    )
    mean = subsets["train"].y.mean()
    assert model.y_mean.item() == 0.0 and model.y_std.item() == 1.0
    assert model.head[-1].bias.item() == pytest.approx(mean, abs=1e-6)
    assert model.head[4].bias.abs().max() < 1e-9  # zero, moved by 1e-12-sized steps
    val = subsets["validation"]
    assert (
        abs(np.median(pred) - mean) < 0.5
    )  # dex about the training mean, not standard deviations about 0
    assert hist["val_loss"].iloc[-1] == pytest.approx(metrics.rmse(pred, val.y), rel=1e-5)


def test_wrong_resolution_and_missing_weights_are_refused(tmp_path):
    paths = synthetic_survey(tmp_path, n=60)
    out = {k: tmp_path / k for k in ("model", "config", "history", "metrics")}
    args = (paths["images"], paths["index"], paths["splits"], paths["catalog"], out)
    with pytest.raises(ValueError, match=r"expected \(N, 8, 8, 3\) uint8"):
        train_cnn(*args, target="oh_p50", bands="gri", res=8, fold=0, settings=SETTINGS, seed=0)
    with pytest.raises(ValueError, match="weights are missing"):
        train_cnn(
            *args,
            target="oh_p50",
            bands="gri",
            res=4,
            fold=0,
            settings={**SETTINGS, "pretrained": "imagenet"},
            seed=0,
        )


def run_fit(images, subsets, settings, init, checkpoint=None, epoch_callback=None):
    model = ResNetRegressor("resnet18")
    model.load_state_dict(init)
    hist, pred = fit_fold(
        model,
        images,
        subsets,
        settings,
        seed=3,
        checkpoint=checkpoint,
        epoch_callback=epoch_callback,
    )
    return model, hist, pred


def assert_same_run(a, b):
    (model_a, hist_a, pred_a), (model_b, hist_b, pred_b) = a, b
    pd.testing.assert_frame_equal(hist_a.drop(columns="seconds"), hist_b.drop(columns="seconds"))
    np.testing.assert_array_equal(pred_a, pred_b)
    for k, v in model_a.state_dict().items():
        assert torch.equal(v, model_b.state_dict()[k]), k


def kill_after(last_epoch):
    def callback(epoch, history):
        if epoch == last_epoch:
            raise Preempted

    return callback


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The data, settings, initial weights and result of one run without a checkpoint."""
    images, subsets = load_fold(synthetic_survey(tmp_path_factory.mktemp("survey"), n=120))
    settings = {**SETTINGS, "batch_size": 16}
    torch.manual_seed(0)
    init = ResNetRegressor("resnet18").state_dict()
    return images, subsets, settings, init, run_fit(images, subsets, settings, init)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "old layout"])
def test_a_bad_checkpoint_is_moved_aside_and_training_starts_over(
    tmp_path, uninterrupted, damage, caplog
):
    images, subsets, settings, init, reference = uninterrupted
    ckpt = tmp_path / "run" / CHECKPOINT_NAME
    ckpt.parent.mkdir()
    if damage == "garbage":
        ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "truncated":  # a checkpoint cut short (a crash while it was copied, a full disk)
        with pytest.raises(Preempted):
            run_fit(images, subsets, settings, init, ckpt, kill_after(1))
        ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    else:  # written by an earlier version: weights and epoch, no fingerprint
        torch.save({"epoch": 2, "model": ResNetRegressor("resnet18").state_dict()}, ckpt)
    damaged = ckpt.read_bytes()
    with caplog.at_level("WARNING", logger="galcnn.cnn.checkpoint"):
        again = run_fit(images, subsets, settings, init, ckpt)
    assert_same_run(again, reference)
    assert (ckpt.parent / "checkpoint.pt.bad").read_bytes() == damaged
    assert "training starts over" in caplog.text and "checkpoint.pt.bad" in caplog.text


def test_a_checkpoint_is_not_resumed_on_images_rebuilt_since(tmp_path, uninterrupted):
    """Same galaxies and settings, other pixels (a new cutouts.scale): the fit starts over on the new images."""
    images, subsets, settings, init, _ = uninterrupted
    ckpt = tmp_path / "run" / CHECKPOINT_NAME
    with pytest.raises(Preempted):
        run_fit(images, subsets, settings, init, ckpt, kill_after(1))
    rebuilt = (np.asarray(images) // 2 + 60).astype(np.uint8)
    resumed = run_fit(rebuilt, subsets, settings, init, ckpt)
    assert (ckpt.parent / "checkpoint.pt.bad").exists()
    assert_same_run(resumed, run_fit(rebuilt, subsets, settings, init))

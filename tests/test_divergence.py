"""Diverging training stops at once with a message naming where and what to change,
and keeps the checkpoint of the last finite epoch."""

import copy

import numpy as np
import pytest
import torch
from test_train import SETTINGS, fit_fold, load_fold, synthetic_survey

from galcnn.cnn.divergence import EpochGuard, TrainingDiverged
from galcnn.cnn.model import ResNetRegressor
from galcnn.cnn.train import CHECKPOINT_NAME


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def diverging_settings():
    """A sane stage 1 (one epoch), then absurd stage-2 rates."""
    settings = copy.deepcopy(SETTINGS)
    settings["stage1"] = {"epochs": 1, "lr": 0.01}
    settings["stage2"] = {
        "lrs": [1e12, 1e12, 1e12],
        "epochs": 1,
        "cycles": 1,
        "cycle_len": 1,
        "cycle_mult": 1,
    }
    return settings


def test_absurd_learning_rate_stops_in_its_epoch_and_keeps_the_last_finite_checkpoint(tmp_path):
    paths = synthetic_survey(tmp_path, n=200)
    images, subsets = load_fold(paths)
    torch.manual_seed(0)
    model = ResNetRegressor("resnet18")
    ckpt = tmp_path / CHECKPOINT_NAME
    epochs = []
    with pytest.raises(TrainingDiverged) as err:
        fit_fold(
            model,
            images,
            subsets,
            diverging_settings(),
            seed=1,
            checkpoint=ckpt,
            epoch_callback=lambda epoch, history: epochs.append(epoch),
        )
    message = str(err.value)
    assert epochs == [0]  # stage 1 finished; stage 2's first epoch diverged
    assert message.startswith("training diverged: non-finite ")
    assert "in epoch 1" in message and "stage 2 (stage2)" in message
    assert "learning rates in force 1e+12, 1e+12, 1e+12" in message
    assert "train.stage2.lrs" in message and "train.batch_size" in message
    assert f"kept for inspection: {ckpt}" in message
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_non_finite_validation_predictions_stop_training():
    guard = EpochGuard(epoch=3, stage=1, phase="stage1", fp16=True, checkpoint=None)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    guard.check("validation predictions", np.array([0.1, 0.2]), opt)  # finite: nothing happens
    with pytest.raises(TrainingDiverged) as err:
        guard.check("validation predictions", np.array([0.1, np.nan]), opt)
    message = str(err.value)
    assert "non-finite validation predictions (NaN or inf) in epoch 3, stage 1 (stage1)" in message
    assert "learning rates in force 0.5" in message and "train.stage1.lr" in message
    assert "train.amp: false" in message and "no epoch finished with finite values" in message

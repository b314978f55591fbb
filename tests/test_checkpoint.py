"""Checkpoints that cannot be resumed are set aside, whatever is wrong inside them."""

import numpy as np
import pytest
import torch

from galcnn.cnn.checkpoint import Checkpoint

CPU = torch.device("cpu")
FINGERPRINT = {"settings": {"lr": 0.1}, "images": "abc"}


def parts():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return model, opt, scaler, np.random.default_rng(0), torch.Generator().manual_seed(0)


def test_a_sound_checkpoint_resumes(tmp_path):
    ckpt = Checkpoint(tmp_path / "checkpoint.pt", FINGERPRINT)
    ckpt.save(2, [{"epoch": 0}, {"epoch": 1}], *parts(), CPU)
    assert ckpt.restore(*parts(), CPU) == (2, [{"epoch": 0}, {"epoch": 1}])


@pytest.mark.parametrize(
    "epoch, history, problem",
    [
        ("two", [{}, {}], "records 'two' epochs done, not a count"),
        (2.0, [{}, {}], "records 2.0 epochs done"),
        (-1, [], "records -1 epochs done"),
        (True, [{}], "records True epochs done"),
        (2, "two rows", "has a history of str that does not list 2 epochs"),
        (3, [{}, {}], "has a history of list that does not list 3 epochs"),
    ],
)
def test_an_epoch_count_of_the_wrong_type_is_set_aside(tmp_path, caplog, epoch, history, problem):
    path = tmp_path / "checkpoint.pt"
    ckpt = Checkpoint(path, FINGERPRINT)
    ckpt.save(2, [{}, {}], *parts(), CPU)
    state = torch.load(path, weights_only=True)
    torch.save(state | {"epoch": epoch, "history": history}, path)
    with caplog.at_level("WARNING", logger="galcnn.cnn.checkpoint"):
        assert ckpt.restore(*parts(), CPU) == (0, [])
    assert problem in caplog.text and "training starts over" in caplog.text
    assert not path.exists() and (tmp_path / "checkpoint.pt.bad").exists()

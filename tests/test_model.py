"""The ResNet + fastai head: every resolution, layer groups, freezing, weights files."""

import pytest
import torch
import torchvision

from galcnn.cnn.model import ResNetRegressor, fetch_weights, load_weights, weights_url


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("res", [1, 2, 8, 32])
def test_native_resolution_down_to_one_pixel(res):
    model = ResNetRegressor("resnet18")
    out = model(torch.randn(3, 3, res, res))
    assert out.shape == (3,) and torch.isfinite(out).all()


def test_head_is_the_fastai_head():
    head = ResNetRegressor("resnet18").head
    kinds = [type(m).__name__ for m in head]
    assert kinds == [
        "AdaptiveConcatPool2d",
        "Flatten",
        "BatchNorm1d",
        "Dropout",
        "Linear",
        "ReLU",
        "BatchNorm1d",
        "Dropout",
        "Linear",
    ]
    assert (head[3].p, head[7].p) == (0.25, 0.5)
    assert (head[4].in_features, head[4].out_features, head[8].out_features) == (1024, 512, 1)


def test_layer_groups_partition_the_parameters():
    model = ResNetRegressor("resnet18")
    groups = [set(map(id, g.parameters())) for g in model.layer_groups()]
    assert sum(map(len, groups)) == len(set().union(*groups)) == len(list(model.parameters()))
    # docs/paper.md: (1) stem + layer1 + layer2, (2) layer3 + layer4, (3) the head.
    resnet = torchvision.models.resnet18()
    names = [n for n, _ in resnet.named_children()][:8]  # conv1, bn1, relu, maxpool, layer1..layer4
    for i, (name, group) in enumerate(zip(names, (0, 0, 0, 0, 0, 0, 1, 1))):
        assert {id(p) for p in model.body[i].parameters()} <= groups[group], name
    assert {id(p) for p in model.head.parameters()} == groups[2]


def test_frozen_body_keeps_batchnorm_in_eval_mode():
    model = ResNetRegressor("resnet18")
    model.set_body_frozen(True)
    model.train()
    assert not model.body.training and model.head.training
    assert not any(p.requires_grad for p in model.body.parameters())
    model.set_body_frozen(False)
    model.train()
    assert model.body.training and all(p.requires_grad for p in model.parameters())


def test_output_is_rescaled_to_target_units():
    model = ResNetRegressor("resnet18").eval()
    x = torch.randn(4, 3, 4, 4)
    raw = model(x)
    model.y_mean.fill_(9.0)
    model.y_std.fill_(0.2)
    assert torch.allclose(model(x), raw * 0.2 + 9.0)


def test_weights_file_is_checked_and_copied(tmp_path):
    src = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), src)
    dest = fetch_weights(
        "resnet18", tmp_path / "weights" / "resnet18-imagenet.pth", weights_file=src
    )
    assert dest.read_bytes() == src.read_bytes()
    model = ResNetRegressor("resnet18", weights=dest)
    assert torch.equal(model.body[0].weight, load_weights(src, "resnet18")["conv1.weight"])
    with pytest.raises(ValueError, match="does not hold resnet34 weights"):
        load_weights(src, "resnet34")
    with pytest.raises(FileNotFoundError, match="download https://"):
        fetch_weights("resnet18", tmp_path / "x.pth", weights_file=tmp_path / "missing.pth")


def test_weights_url_and_unknown_arch():
    assert weights_url("resnet34").startswith("https://download.pytorch.org/models/resnet34")
    with pytest.raises(ValueError, match="train.arch must be one of"):
        ResNetRegressor("vgg16")


def test_head_in_dex_has_fastais_zero_biases_or_ours_at_the_training_mean():
    torch.manual_seed(0)
    model = ResNetRegressor("resnet18")
    # fastai 0.7 (the authors'): Kaiming weights, every bias 0, even the output's in dex.
    model.prepare_head(9.0, 0.2, standardize=False, init="kaiming")
    last = model.head[-1]
    assert model.y_mean.item() == 0.0 and model.y_std.item() == 1.0
    assert torch.all(last.bias == 0.0)
    # Ours: the same weights' draw, the output's bias at the training mean.
    model.prepare_head(9.0, 0.2, standardize=False, init="kaiming_mean")
    assert torch.all(last.bias == 9.0)
    hidden = model.head[4]
    assert torch.all(hidden.bias == 0)
    # Kaiming-normal (fan in, ReLU gain): std sqrt(2 / fan_in)
    assert hidden.weight.std().item() == pytest.approx((2 / hidden.in_features) ** 0.5, rel=0.05)
    model.prepare_head(9.0, 0.2, standardize=True, init="pytorch")
    assert model.y_mean.item() == 9.0 and model.y_std.item() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="head_init"):
        model.prepare_head(9.0, 0.2, standardize=True, init="xavier")

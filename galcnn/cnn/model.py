"""The paper's network: a torchvision ResNet body and the fastai regression head.

docs/paper.md, "Model and training": ResNet-34 pretrained on ImageNet; head =
concat(average, max) pooling → BatchNorm → Dropout 0.25 → Linear(2C, 512) → ReLU
→ BatchNorm → Dropout 0.5 → Linear(512, 1); layer groups (1) stem + layer1 +
layer2, (2) layer3 + layer4, (3) the head.

The body is fully convolutional with padded stride-2 convolutions, so it runs
on any input size down to 1 × 1 (each stride-2 stage maps 1 px to 1 px); the
resolution study feeds the native-resolution image rather than upsampling it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch
import torchvision
from torch import nn

from galcnn import storage

log = logging.getLogger(__name__)

ARCHS = ("resnet18", "resnet34", "resnet50")

#: ImageNet channel statistics (RGB). Pretrained weights expect them. Training
#: from scratch uses them too: one normalisation for both modes keeps the
#: packed arrays, the model file and prediction identical in either case, and
#: the first BatchNorm re-centres whatever offset is left.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_WEIGHTS_ENUM = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
}


class AdaptiveConcatPool2d(nn.Module):
    """Average and max pooling to 1 × 1, concatenated along channels (fastai)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [nn.functional.adaptive_max_pool2d(x, 1), nn.functional.adaptive_avg_pool2d(x, 1)],
            dim=1,
        )


#: train.head_init: fastai's (the authors'), fastai's with our last bias, PyTorch's defaults.
HEAD_INITS = ("kaiming", "kaiming_mean", "pytorch")


class ResNetRegressor(nn.Module):
    """ResNet body + fastai head, predicting one target in its own units.

    Output = head(body(x)) × ``y_std`` + ``y_mean`` (buffers saved with the
    weights). :meth:`prepare_head` sets them for one of two regressions:

    * standardised (``train.standardize_target: true``): the head predicts
      (y − mean)/σ of the training targets, so the paper's learning rates mean
      the same for metallicity (σ ≈ 0.2 dex) and stellar mass (σ ≈ 0.6 dex);
    * the authors' (false): the head outputs dex (``y_std`` 1, ``y_mean`` 0); each SGD
      step then moves the prediction σ_y times further than above. Under fastai's
      initialisation (``head_init: kaiming``) every head bias starts at 0, as the authors'
      did; ours (``kaiming_mean``, ``pytorch``) starts the last bias at the training mean,
      so the head need not learn ~9 dex first.
    """

    def __init__(
        self, arch: str = "resnet34", hidden: int = 512, weights: str | Path | None = None
    ):
        super().__init__()
        net = _torchvision_resnet(arch)
        if weights is not None:
            net.load_state_dict(load_weights(weights, arch))
        n_features = net.fc.in_features
        self.arch = arch
        self.body = nn.Sequential(
            net.conv1,
            net.bn1,
            net.relu,
            net.maxpool,
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        self.head = nn.Sequential(
            AdaptiveConcatPool2d(),
            nn.Flatten(),
            nn.BatchNorm1d(2 * n_features),
            nn.Dropout(0.25),
            nn.Linear(2 * n_features, hidden),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden),
            nn.Dropout(0.5),
            nn.Linear(hidden, 1),
        )
        self.register_buffer("y_mean", torch.tensor(0.0))
        self.register_buffer("y_std", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The rescaling stays in float32 even under autocast: in bfloat16 a value
        # of 9 dex has a resolution of 0.06 dex, coarser than the paper's scatter.
        return self.head(self.body(x)).squeeze(1).float() * self.y_std + self.y_mean

    def prepare_head(self, y_mean: float, y_std: float, standardize: bool, init: str) -> None:
        """Initialise the head for training on targets of ``y_mean`` ± ``y_std``.

        ``init="kaiming"`` re-draws the head's Linear weights Kaiming-normal with
        zero biases (fastai 0.7 ``apply_init(head, kaiming_normal)``; BatchNorm
        left at 1, 0); ``"pytorch"`` keeps PyTorch's defaults; ``"kaiming_mean"`` is
        ``kaiming`` with the unstandardised head's last bias at ``y_mean``, as ``pytorch``.
        """
        if init in ("kaiming", "kaiming_mean"):
            for layer in self.head:
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_normal_(layer.weight)
                    nn.init.zeros_(layer.bias)
        elif init not in HEAD_INITS:
            raise ValueError(
                f"unknown head initialisation {init!r}; train.head_init must be one of {list(HEAD_INITS)}"
            )
        if standardize:
            self.y_mean.fill_(y_mean)
            self.y_std.fill_(y_std)
        else:
            self.y_mean.fill_(0.0)
            self.y_std.fill_(1.0)
            if init != "kaiming":
                with torch.no_grad():
                    self.head[-1].bias.fill_(y_mean)

    def layer_groups(self) -> list[nn.Module]:
        """(1) stem + layer1 + layer2, (2) layer3 + layer4, (3) head (docs/paper.md)."""
        return [self.body[:6], self.body[6:], self.head]

    def set_body_frozen(self, frozen: bool) -> None:
        """Freeze the body's weights for stage 1 (the head alone is trained)."""
        for p in self.body.parameters():
            p.requires_grad_(not frozen)
        self.body_frozen = frozen

    def train(self, mode: bool = True):
        # As in fastai 0.7 (set_train_mode), BatchNorm layers of frozen groups stay
        # in eval mode: the running statistics of the frozen body are not updated.
        super().train(mode)
        if mode and getattr(self, "body_frozen", False):
            self.body.eval()
        return self


def _torchvision_resnet(arch: str) -> torchvision.models.ResNet:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; train.arch must be one of {list(ARCHS)}")
    return getattr(torchvision.models, arch)(weights=None)


def weights_url(arch: str) -> str:
    """Where torchvision downloads the ImageNet weights of ``arch`` (IMAGENET1K_V1, as in the paper's era)."""
    _torchvision_resnet(arch)
    return getattr(torchvision.models, _WEIGHTS_ENUM[arch]).IMAGENET1K_V1.url


def load_weights(path: str | Path, arch: str) -> dict:
    """A torchvision ImageNet state dict for ``arch``; a clear error when the file is not one."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ValueError(
            f"{path} is not a readable PyTorch weights file ({err}); get {weights_url(arch)}"
        ) from err
    try:
        _torchvision_resnet(arch).load_state_dict(state)
    except (RuntimeError, AttributeError, TypeError) as err:
        raise ValueError(
            f"{path} does not hold {arch} weights ({str(err).splitlines()[0]}); "
            f"it must be torchvision's {arch} ImageNet state dict from {weights_url(arch)}"
        ) from err
    return state


def fetch_weights(arch: str, dest: str | Path, weights_file: str | Path | None = None) -> Path:
    """Put the ImageNet weights of ``arch`` at ``dest``: a copy of ``weights_file``
    when given, else torchvision's download. Fails with instructions when offline."""
    dest = Path(dest)
    url = weights_url(arch)
    if weights_file:
        src = Path(weights_file)
        if not src.is_file():
            raise FileNotFoundError(
                f"train.weights_file {src} does not exist; download {url} and point train.weights_file at it"
            )
        load_weights(src, arch)
        with storage.atomic_path(dest) as tmp:
            shutil.copyfile(src, tmp)
        log.info("copied %s weights from %s", arch, src)
        return dest
    try:
        with storage.atomic_path(dest) as tmp:
            torch.hub.download_url_to_file(url, str(tmp), progress=False)
            load_weights(tmp, arch)
    except OSError as err:
        raise RuntimeError(
            f"could not download the {arch} ImageNet weights from {url} ({err}). "
            f"On a machine with internet access download that URL and either copy the file to {dest} "
            f"or set train.weights_file to its path; or train from scratch with train.pretrained: false."
        ) from err
    log.info("downloaded %s weights from %s", arch, url)
    return dest

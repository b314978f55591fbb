"""Batch augmentation on the training device: dihedral transforms, zoom, rotation and lighting.

Galaxy images have no preferred orientation, so the paper augments with the
eight symmetries of the square (flips and 90° rotations) and a zoom up to 1.1
(paper appendix A2). The authors' code used fastai 0.7's top-down transforms,
which add a small rotation (up to ±10°) and a lighting change (balance and
contrast up to ±5 %); ``rotate`` and ``lighting`` reproduce them (0 = off).
Everything here acts on whole NCHW float batches already on the device, one
random transform per image, so no per-image CPU work is left in the training
loop. The same eight dihedral transforms give the default test-time augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from galcnn.cnn.model import IMAGENET_MEAN, IMAGENET_STD

#: The dihedral group D4 of the square: k = 0..3 rotations by k·90°, k = 4..7 the same after a flip.
N_DIHEDRAL = 8


#: One generator for the batch, or one per image.
Generators = torch.Generator | Sequence[torch.Generator] | None


def _uniform(n: int, k: int, generator: Generators, device) -> torch.Tensor:
    """(n, k) uniforms on ``device``: from one generator for the batch, or from one
    generator per image (then an image's draws do not depend on its batch)."""
    if isinstance(generator, Sequence):
        u = (
            torch.stack([torch.rand(k, generator=g) for g in generator])
            if n
            else torch.empty((0, k))
        )
    else:
        u = torch.rand((n, k), generator=generator, device="cpu")
    return u.to(device=device, dtype=torch.float32)


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Transform ``k`` (0 = identity) of an NCHW batch."""
    if not 0 <= k < N_DIHEDRAL:
        raise ValueError(f"dihedral transform index {k} is outside 0..{N_DIHEDRAL - 1}")
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def random_dihedral(x: torch.Tensor, generator: Generators = None) -> torch.Tensor:
    """Each image of the batch under its own random dihedral transform."""
    if isinstance(generator, Sequence):
        ks = torch.cat([torch.randint(N_DIHEDRAL, (1,), generator=g) for g in generator]).to(
            x.device
        )
    else:
        ks = torch.randint(N_DIHEDRAL, (x.shape[0],), generator=generator, device="cpu").to(
            x.device
        )
    out = torch.empty_like(x)
    for k in range(N_DIHEDRAL):
        sel = (ks == k).nonzero().squeeze(1)
        if sel.numel():
            out[sel] = dihedral(x[sel], k)
    return out


def _warp(x: torch.Tensor, theta: torch.Tensor, padding: str) -> torch.Tensor:
    """Each image resampled (bilinear) through its affine map ``theta`` (N × 2 × 3), the
    area outside the image filled by ``padding`` (grid_sample's padding_mode)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(
        x.float(), grid, mode="bilinear", padding_mode=padding, align_corners=False
    ).to(x.dtype)


def random_zoom(
    x: torch.Tensor,
    max_zoom: float,
    generator: Generators = None,
    p: float = 1.0,
    whole_pixels: bool = False,
) -> torch.Tensor:
    """Each image, with probability ``p``, magnified by a random factor in [1, max_zoom] about
    a random point that keeps the view inside the image (fastai 0.7's RandomScale + RandomCrop).

    fastai draws the zoom with probability 0.75 and resizes to ``int(zoom * size)`` px before
    cropping back to ``size``: with ``whole_pixels`` the factor is rounded down the same way, so
    at 9 px and below (``int(1.1 * 9) = 9``) no image is zoomed. ``p`` 1 without ``whole_pixels``
    draws what earlier runs drew.
    """
    if max_zoom < 1:
        raise ValueError(f"max_zoom {max_zoom} must be at least 1 (1 = no zoom)")
    if not 0 <= p <= 1:
        raise ValueError(f"zoom probability {p} must be within [0, 1]")
    if max_zoom == 1 or p == 0:
        return x
    n, size = x.shape[0], x.shape[-1]
    u = _uniform(n, 3 if p == 1 else 4, generator, x.device)
    zoom = 1.0 + (max_zoom - 1.0) * u[:, 0]
    if p < 1:
        zoom = torch.where(u[:, 3] < p, zoom, torch.ones_like(zoom))
    if whole_pixels:
        zoom = torch.floor(zoom * size) / size
    inv = 1.0 / zoom
    shift = (1.0 - inv)[:, None] * (2.0 * u[:, 1:3] - 1.0)
    theta = torch.zeros((n, 2, 3), device=x.device, dtype=torch.float32)
    theta[:, 0, 0] = inv
    theta[:, 1, 1] = inv
    theta[:, :, 2] = shift
    # An image left unzoomed is left as it is, not resampled at its own pixel centres.
    still = (zoom == 1).view(n, 1, 1, 1)
    return torch.where(still, x, _warp(x, theta, "border"))


#: fastai 0.7's RandomRotate rotates three images in four.
ROTATE_PROBABILITY = 0.75


def random_rotate(
    x: torch.Tensor, max_degrees: float, generator: Generators = None
) -> torch.Tensor:
    """Each image, with probability 3/4, rotated by a uniform angle in ±``max_degrees``
    about its centre, corners filled by reflection (fastai 0.7's RandomRotate, BORDER_REFLECT)."""
    if max_degrees < 0:
        raise ValueError(f"rotation {max_degrees} must be at least 0 degrees (0 = none)")
    if max_degrees == 0:
        return x
    n = x.shape[0]
    u = _uniform(n, 2, generator, x.device)
    angle = torch.deg2rad(max_degrees * (2.0 * u[:, 0] - 1.0)) * (u[:, 1] < ROTATE_PROBABILITY)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros((n, 2, 3), device=x.device, dtype=torch.float32)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    return _warp(x, theta, "reflection")


def random_lighting(x: torch.Tensor, amount: float, generator: Generators = None) -> torch.Tensor:
    """fastai 0.7's RandomLighting(b=c=``amount``) on normalised batches.

    On the [0, 1] image: x → clip((x − μ)·c + μ + b, 0, 1), with μ the image's mean,
    b uniform in ±amount and c = 1 + uniform in ±amount (1/(1 − c') for c' < 0). The
    batch is un-normalised for it and normalised again, so the clip acts where fastai's did.
    """
    if amount < 0:
        raise ValueError(f"lighting {amount} must be at least 0 (0 = none)")
    if amount == 0:
        return x
    n = x.shape[0]
    u = amount * (2.0 * _uniform(n, 2, generator, x.device) - 1.0)
    b = u[:, 0].view(n, 1, 1, 1)
    c = torch.where(u[:, 1] < 0, -1.0 / (u[:, 1] - 1.0), u[:, 1] + 1.0).view(n, 1, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    img = x.float() * std + mean
    mu = img.mean(dim=(1, 2, 3), keepdim=True)
    img = ((img - mu) * c + mu + b).clamp_(0.0, 1.0)
    return ((img - mean) / std).to(x.dtype)


def augment_batch(
    x: torch.Tensor,
    max_zoom: float,
    generator: Generators = None,
    rotate: float = 0.0,
    lighting: float = 0.0,
    zoom_p: float = 1.0,
    zoom_whole_pixels: bool = False,
) -> torch.Tensor:
    """The training augmentation: random rotation, zoom, lighting, then a random dihedral
    transform. With ``rotate`` and ``lighting`` 0 it draws exactly what zoom and dihedral
    alone draw, so earlier runs are reproduced."""
    x = random_zoom(
        random_rotate(x, rotate, generator), max_zoom, generator, zoom_p, zoom_whole_pixels
    )
    return random_dihedral(random_lighting(x, lighting, generator), generator)


def augment_settings(train: dict) -> dict:
    """The augmentation keywords of the config's ``train`` mapping (absent keys, as in models saved
    before them: no rotation or lighting, every image zoomed by any factor)."""
    return {
        "max_zoom": float(train["zoom"]),
        "zoom_p": float(train.get("zoom_p", 1.0)),
        "zoom_whole_pixels": bool(train.get("zoom_whole_pixels", False)),
        "rotate": float(train.get("rotate", 0.0)),
        "lighting": float(train.get("lighting", 0.0)),
    }

"""Batch augmentation on the training device: dihedral transforms and random zoom.

Galaxy images have no preferred orientation, so the paper augments with the
eight symmetries of the square (flips and 90° rotations) and a zoom up to 1.1
(FACTS.md). Everything here acts on whole NCHW float batches already on the
device, one random transform per image, so no per-image CPU work is left in
the training loop. The same eight transforms give the test-time augmentation.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

#: The dihedral group D4 of the square: k = 0..3 rotations by k·90°, k = 4..7 the same after a flip.
N_DIHEDRAL = 8


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Transform ``k`` (0 = identity) of an NCHW batch."""
    if not 0 <= k < N_DIHEDRAL:
        raise ValueError(f"dihedral transform index {k} is outside 0..{N_DIHEDRAL - 1}")
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def random_dihedral(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of the batch under its own random dihedral transform."""
    ks = torch.randint(N_DIHEDRAL, (x.shape[0],), generator=generator, device="cpu").to(x.device)
    out = torch.empty_like(x)
    for k in range(N_DIHEDRAL):
        sel = (ks == k).nonzero().squeeze(1)
        if sel.numel():
            out[sel] = dihedral(x[sel], k)
    return out


def random_zoom(x: torch.Tensor, max_zoom: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image magnified by a random factor in [1, max_zoom] about a random
    point that keeps the view inside the image (fastai 0.7's RandomScale + RandomCrop)."""
    if max_zoom < 1:
        raise ValueError(f"max_zoom {max_zoom} must be at least 1 (1 = no zoom)")
    if max_zoom == 1:
        return x
    n = x.shape[0]
    u = torch.rand((n, 3), generator=generator, device="cpu").to(device=x.device, dtype=torch.float32)
    inv = 1.0 / (1.0 + (max_zoom - 1.0) * u[:, 0])
    shift = (1.0 - inv)[:, None] * (2.0 * u[:, 1:] - 1.0)
    theta = torch.zeros((n, 2, 3), device=x.device, dtype=torch.float32)
    theta[:, 0, 0] = inv
    theta[:, 1, 1] = inv
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False).to(x.dtype)


def augment_batch(x: torch.Tensor, max_zoom: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The training augmentation: random zoom, then a random dihedral transform."""
    return random_dihedral(random_zoom(x, max_zoom, generator), generator)

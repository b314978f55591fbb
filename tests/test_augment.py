"""Dihedral transforms, zoom, rotation and lighting on device batches."""

import pytest
import torch

from galcnn.cnn.augment import (
    N_DIHEDRAL,
    augment_batch,
    dihedral,
    random_dihedral,
    random_lighting,
    random_rotate,
    random_zoom,
)
from galcnn.cnn.model import IMAGENET_MEAN, IMAGENET_STD


def asymmetric(n=1, size=5):
    return torch.arange(n * 3 * size * size, dtype=torch.float32).reshape(n, 3, size, size)


def test_eight_distinct_transforms_that_permute_pixels():
    x = asymmetric()
    outs = [dihedral(x, k) for k in range(N_DIHEDRAL)]
    assert torch.equal(outs[0], x)
    for i in range(N_DIHEDRAL):
        assert torch.equal(outs[i].flatten().sort().values, x.flatten().sort().values)
        for j in range(i):
            assert not torch.equal(outs[i], outs[j])


def test_random_dihedral_applies_one_group_element_per_image():
    torch.manual_seed(0)
    x = asymmetric(64)
    out = random_dihedral(x, torch.Generator().manual_seed(1))
    used = set()
    for i in range(64):
        matches = [
            k for k in range(N_DIHEDRAL) if torch.equal(out[i], dihedral(x[i : i + 1], k)[0])
        ]
        assert len(matches) == 1
        used.add(matches[0])
    assert len(used) == N_DIHEDRAL


def test_zoom_keeps_shape_and_flat_images_and_is_identity_at_one():
    x = asymmetric(4, 8)
    assert random_zoom(x, 1.0) is x
    z = random_zoom(x, 1.5, torch.Generator().manual_seed(0))
    assert z.shape == x.shape and not torch.equal(z, x)
    flat = torch.full((3, 3, 8, 8), 0.7)
    assert torch.allclose(random_zoom(flat, 1.5, torch.Generator().manual_seed(0)), flat)
    one = torch.rand(5, 3, 1, 1)
    assert torch.allclose(augment_batch(one, 1.1, torch.Generator().manual_seed(0)), one)


def test_zoom_probability_and_whole_pixels_as_fastai():
    """fastai 0.7 RandomScale: p = 0.75, and the zoomed size int(zoom * size) px, so a 9 px image
    is never zoomed and a 16 px one only to 17 px (or not at all)."""
    x = asymmetric(400, 16)
    z = random_zoom(x, 1.1, torch.Generator().manual_seed(1), p=0.75)
    untouched = (z == x).flatten(1).all(1).float().mean().item()
    assert 0.17 < untouched < 0.33  # one in four
    assert torch.equal(random_zoom(x, 1.1, torch.Generator().manual_seed(1), p=0.0), x)
    nine = asymmetric(50, 9)
    assert torch.equal(
        random_zoom(nine, 1.1, torch.Generator().manual_seed(2), whole_pixels=True), nine
    )
    assert not torch.allclose(
        random_zoom(nine, 1.1, torch.Generator().manual_seed(2)), nine, atol=1e-2
    )
    # p = 1 without whole pixels draws what earlier runs drew.
    assert torch.equal(
        random_zoom(x, 1.1, torch.Generator().manual_seed(4)),
        random_zoom(x, 1.1, torch.Generator().manual_seed(4), p=1.0, whole_pixels=False),
    )
    with pytest.raises(ValueError, match="probability"):
        random_zoom(x, 1.1, p=1.5)


def test_same_generator_state_same_augmentation():
    x = asymmetric(16, 6)
    a = augment_batch(x, 1.1, torch.Generator().manual_seed(3))
    b = augment_batch(x, 1.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def to_unit(x):
    """A normalised batch back on the [0, 1] scale of the image."""
    return x * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(
        1, 3, 1, 1
    )


def test_rotation_is_small_keeps_flat_images_and_is_off_at_zero():
    x = asymmetric(64, 16)
    assert random_rotate(x, 0) is x
    out = random_rotate(x, 10, torch.Generator().manual_seed(0))
    changed = [not torch.allclose(out[i], x[i], atol=1e-3) for i in range(64)]
    assert 0.5 < sum(changed) / 64 < 1.0  # three in four rotated (fastai's p = 0.75)
    flat = torch.full((4, 3, 16, 16), 0.3)
    assert torch.allclose(
        random_rotate(flat, 10, torch.Generator().manual_seed(0)), flat, atol=1e-6
    )
    # a 10 degree turn moves the image far less than a quarter turn
    quarter = (dihedral(x, 1) - x).abs().mean()
    assert ((out - x).abs().mean(dim=(1, 2, 3)) < 0.5 * quarter).all()
    with pytest.raises(ValueError, match="rotation"):
        random_rotate(x, -1)


def test_lighting_changes_balance_and_contrast_within_the_amount():
    g = torch.Generator().manual_seed(0)
    unit = torch.rand(200, 3, 8, 8, generator=g) * 0.5 + 0.25  # away from the clip at 0 and 1
    x = (unit - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(
        1, 3, 1, 1
    )
    assert random_lighting(x, 0) is x
    out = to_unit(random_lighting(x, 0.05, torch.Generator().manual_seed(1)))
    mu = unit.mean(dim=(1, 2, 3), keepdim=True)
    # out = (unit - mu) c + mu + b: recover c and b per image by least squares
    dev, odev = unit - mu, out - out.mean(dim=(1, 2, 3), keepdim=True)
    c = (dev * odev).sum(dim=(1, 2, 3)) / (dev * dev).sum(dim=(1, 2, 3))
    b = out.mean(dim=(1, 2, 3)) - mu.flatten()
    assert torch.all(c > 1 / 1.05 - 1e-4) and torch.all(c < 1.05 + 1e-4) and c.std() > 0.01
    assert torch.all(b.abs() < 0.05 + 1e-5) and b.std() > 0.01
    assert torch.allclose(out, dev * c.view(-1, 1, 1, 1) + mu + b.view(-1, 1, 1, 1), atol=1e-5)
    assert (
        to_unit(random_lighting(torch.full((2, 3, 4, 4), 10.0), 0.05, g)).max() <= 1 + 1e-5
    )  # clipped as fastai


def test_one_generator_per_image_makes_draws_independent_of_the_batch():
    x = asymmetric(6, 8)
    settings = {"max_zoom": 1.1, "rotate": 10.0, "lighting": 0.05}
    whole = augment_batch(
        x, generator=[torch.Generator().manual_seed(i) for i in range(6)], **settings
    )
    for i in range(6):
        alone = augment_batch(
            x[i : i + 1], generator=[torch.Generator().manual_seed(i)], **settings
        )
        assert torch.allclose(whole[i : i + 1], alone, atol=1e-6)

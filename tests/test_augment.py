"""Dihedral transforms and zoom on device batches."""

import torch

from galcnn.augment import N_DIHEDRAL, augment_batch, dihedral, random_dihedral, random_zoom


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
        matches = [k for k in range(N_DIHEDRAL) if torch.equal(out[i], dihedral(x[i : i + 1], k)[0])]
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


def test_same_generator_state_same_augmentation():
    x = asymmetric(16, 6)
    a = augment_batch(x, 1.1, torch.Generator().manual_seed(3))
    b = augment_batch(x, 1.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galcnn import cutouts, images


def _jpeg(rng, size=16):
    """A small galaxy-like JPEG: a source of random colour at the centre of a noisy dark sky."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    source = np.exp(-(x**2 + y**2) / (2 * (size / 6) ** 2))[..., None] * rng.uniform(120, 230, 3)
    pixels = np.clip(source + rng.normal(8, 4, (size, size, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path):
    """Six galaxies in two shards: four good JPEGs, one HTML page saved as .jpg, one never fetched."""
    rng = np.random.default_rng(0)
    objids = [101, 102, 103, 104, 105, 106]
    root = tmp_path / "cutouts"
    records = []
    for objid in objids[:5]:
        shard = int(cutouts.shard_of([objid], 2)[0])
        path = cutouts.cutout_path(root, shard, objid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"<html>rate limited</html>" if objid == 104 else _jpeg(rng))
        records.append({"objID": objid, "status": "ok", "reason": "", "path": str(path)})
    manifests = pd.DataFrame(records)
    catalog = pd.DataFrame({"objID": objids})
    return tmp_path, catalog, manifests, root


def test_pack_keeps_good_cutouts_aligned_with_index(store):
    tmp, catalog, manifests, root = store
    index = images.pack_cutouts(
        catalog,
        manifests,
        root,
        2,
        16,
        tmp / "16px.npy",
        tmp / "index.parquet",
        tmp / "excluded.parquet",
    )
    packed = np.load(tmp / "16px.npy")
    assert packed.shape == (4, 16, 16, 3) and packed.dtype == np.uint8
    assert list(index["objID"]) == [101, 102, 103, 105]
    for objid, row in zip(index["objID"], index["row"]):
        path = cutouts.cutout_path(root, int(cutouts.shard_of([objid], 2)[0]), objid)
        expected = np.asarray(Image.open(path).convert("RGB"))
        np.testing.assert_array_equal(packed[row], expected)


def test_pack_lists_every_excluded_galaxy_with_a_reason(store):
    tmp, catalog, manifests, root = store
    images.pack_cutouts(
        catalog, manifests, root, 2, 16, tmp / "a.npy", tmp / "i.parquet", tmp / "x.parquet"
    )
    excluded = pd.read_parquet(tmp / "x.parquet").set_index("objID")
    assert set(excluded.index) == {104, 106}
    assert "HTML" in excluded.at[104, "reason"]
    assert excluded.at[106, "status"] == "missing"
    assert not list(tmp.glob(".*"))  # no temporary files left behind


def test_pack_refuses_when_nothing_is_usable(tmp_path):
    catalog = pd.DataFrame({"objID": [1, 2]})
    manifests = pd.DataFrame(
        {
            "objID": [1, 2],
            "status": ["failed", "blank"],
            "reason": ["HTTP 500", "blank"],
            "path": ["", ""],
        }
    )
    with pytest.raises(ValueError, match="no usable cutouts"):
        images.pack_cutouts(
            catalog,
            manifests,
            tmp_path,
            2,
            16,
            tmp_path / "a.npy",
            tmp_path / "i.parquet",
            tmp_path / "x.parquet",
        )


def test_one_pixel_is_the_mean_colour():
    rng = np.random.default_rng(1)
    full = rng.integers(0, 256, (5, 128, 128, 3), dtype=np.uint8)
    one = images.area_average(full, 1)
    np.testing.assert_array_equal(one[:, 0, 0, :], np.rint(full.mean(axis=(1, 2))).astype(np.uint8))


def test_area_average_matches_block_means():
    full = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(1, 4, 4, 3)
    half = images.area_average(full, 2)
    assert half.shape == (1, 2, 2, 3)
    expected = np.rint(full[0, 0:2, 2:4, 1].mean())
    assert half[0, 0, 1, 1] == expected


def test_area_average_rejects_non_divisors():
    with pytest.raises(ValueError, match="does not divide"):
        images.area_average(np.zeros((1, 128, 128, 3), np.uint8), 48)


def test_downsample_file_streams_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "BLOCK", 3)
    full = np.random.default_rng(2).integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "8px.npy", full)
    images.downsample_file(tmp_path / "8px.npy", tmp_path / "2px.npy", 2)
    np.testing.assert_array_equal(np.load(tmp_path / "2px.npy"), images.area_average(full, 2))


def test_shard_folder_drops_cutouts_made_with_other_settings(tmp_path):
    folder = cutouts.open_shard(tmp_path, 3, {"scale": 0.296, "size": 128})
    (folder / "1.jpg").write_bytes(b"old")
    assert cutouts.open_shard(tmp_path, 3, {"size": 128, "scale": 0.296}) == folder
    assert (folder / "1.jpg").exists()  # same settings: a resumed job keeps its files
    cutouts.open_shard(tmp_path, 3, {"scale": 0.4, "size": 128})
    assert not (folder / "1.jpg").exists()


def test_a_full_disk_while_packing_is_a_clear_error_and_leaves_no_temporaries(store, monkeypatch):
    """The memory map's blocks are reserved first, so a full disk is an OSError, not SIGBUS mid-write."""
    import errno
    import os

    tmp, catalog, manifests, root = store

    def full_disk(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full_disk)
    with pytest.raises(
        OSError,
        match=r"cannot reserve .* GB for .*16px\.npy.*No space left on device.*free disk space",
    ):
        images.pack_cutouts(
            catalog,
            manifests,
            root,
            2,
            16,
            tmp / "16px.npy",
            tmp / "index.parquet",
            tmp / "excluded.parquet",
        )
    assert not (tmp / "16px.npy").exists() and not list(tmp.glob(".*"))


@pytest.mark.parametrize("res", [64, 32, 8, 2, 1])
def test_area_average_equals_the_mean_of_each_block(res):
    full = np.random.default_rng(res).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    f = 128 // res
    expected = np.rint(full.reshape(3, res, f, res, f, 3).mean(axis=(2, 4))).astype(np.uint8)
    np.testing.assert_array_equal(images.area_average(full, res), expected)


# Packing and downsampling stream the array through memory in blocks: their peak resident memory
# (VmHWM, which counts the pages of a memory-mapped file too) must not grow with the number of
# galaxies. Measured in a fresh process, with 64-row blocks, at 300 and 3,000 galaxies (15 MB and
# 147 MB arrays): a mapping of the whole file held open grows by about the array's size.
_STREAMING = """
import sys, numpy as np, pandas as pd
from pathlib import Path
from galcnn import cutouts, images
images.BLOCK = 64
n, tmp, jpeg = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]).read_bytes()
objids = np.arange(1, n + 1, dtype=np.int64)
for objid in objids:
    path = cutouts.cutout_path(tmp / "cutouts", int(objid % 4), int(objid))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg)
manifests = pd.DataFrame({"objID": objids, "status": "ok", "reason": "", "path": ""})
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
before = hwm()
images.pack_cutouts(pd.DataFrame({"objID": objids}), manifests, tmp / "cutouts", 4, 128,
                    tmp / "128px.npy", tmp / "index.parquet", tmp / "excluded.parquet", threads=2)
assert len(np.load(tmp / "128px.npy", mmap_mode="r")) == n
packed = hwm()
images.downsample_file(tmp / "128px.npy", tmp / "64px.npy", 64)
print(packed - before, hwm() - before)
"""


@pytest.mark.e2e  # packs 3,000 cutouts in subprocesses to measure their peak memory: the full tier
@pytest.mark.skipif(
    not __import__("pathlib").Path("/proc/self/status").exists(), reason="reads VmHWM from /proc"
)
def test_packing_and_downsampling_memory_does_not_grow_with_the_sample(tmp_path):
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    (tmp_path / "galaxy.jpg").write_bytes(_jpeg(rng, size=128))
    assert cutouts.check_jpeg((tmp_path / "galaxy.jpg").read_bytes(), 128)[0] == cutouts.OK
    growth = {}
    for n in (300, 3000):
        out = tmp_path / str(n)
        proc = subprocess.run(
            [sys.executable, "-c", _STREAMING, str(n), str(out), str(tmp_path / "galaxy.jpg")],
            capture_output=True,
            text=True,
            check=True,
        )
        growth[n] = [float(v) for v in proc.stdout.split()]
    array_mb = (3000 - 300) * 128 * 128 * 3 / 2**20
    for step, small, large in zip(("packing", "downsampling"), growth[300], growth[3000]):
        assert large - small < array_mb / 4, (
            f"{step}: peak memory grew {large - small:.0f} MB for {array_mb:.0f} MB more images"
        )


def test_zero_valued_share_is_the_dilation_of_black_squares():
    """The fast box dilation counts exactly the black pixels within wholly black ZERO_WINDOW squares."""
    from scipy.ndimage import binary_dilation, uniform_filter

    rng = np.random.default_rng(4)
    for _ in range(20):
        pixels = rng.integers(0, 30, (128, 128, 3), dtype=np.uint8)
        y, x, h, w = rng.integers(0, 100, 4)
        pixels[y : y + 20 + h, x : x + 20 + w] = rng.integers(
            0, 4, 3
        )  # a black region, sometimes at an edge
        black = pixels.max(axis=2) <= cutouts.ZERO_LEVEL
        w_ = cutouts.ZERO_WINDOW
        whole = uniform_filter(black.astype(np.float32), w_, mode="constant") > 1 - 0.5 / w_**2
        expected = float((binary_dilation(whole, np.ones((w_, w_), bool)) & black).mean())
        assert cutouts.zero_valued_share(pixels) == expected


def test_framing_scale_is_the_authors_formula():
    # download_images.py: scale = 2 * petroR90_r / 0.396 / width, so petroR90 spans width * 0.396 / 2 px.
    r90 = np.array([3.0, 5.0, 10.0])
    np.testing.assert_allclose(cutouts.framing_scale(r90, 128), 2 * r90 / 0.396 / 128)
    assert r90[1] / cutouts.framing_scale(r90[1], 128) == pytest.approx(128 * 0.396 / 2)
    assert cutouts.framing_scale(5.0, 64, factor=3) == pytest.approx(3 * 5.0 / 0.396 / 64)


def test_cutout_scales_guard_unusable_sizes_with_a_reason():
    catalog = pd.DataFrame(
        {
            "objID": [1, 2, 3, 4, 5, 6, 7],
            "petroR90_r": [5.0, np.nan, -9999.0, 0.0, 0.5, 150.0, 100.0],
            "ra": np.arange(7.0),
        }
    )
    framed, unframed = cutouts.cutout_scales(catalog, "petrosian", 128, 0.296, 2.0)
    assert framed["objID"].tolist() == [1, 7] and framed["ra"].tolist() == [0.0, 6.0]
    np.testing.assert_allclose(framed["scale"], [2 * 5 / 0.396 / 128, 2 * 100 / 0.396 / 128])
    why = unframed.set_index("objID")["reason"]
    assert unframed["status"].eq(cutouts.UNFRAMED).all() and list(why.index) == [2, 3, 4, 5, 6]
    assert why[2].startswith("petroR90_r missing")
    assert why[3].startswith("petroR90_r not positive") and why[4].startswith(
        "petroR90_r not positive"
    )
    assert why[5].startswith("petroR90_r below 1 arcsec") and why[6].startswith(
        "petroR90_r above 100"
    )
    # fixed: every galaxy at the one scale, none refused, petroR90_r not needed
    fixed, none = cutouts.cutout_scales(catalog[["objID"]], "fixed", 128, 0.296)
    assert (fixed["scale"] == 0.296).all() and len(fixed) == 7 and none.empty
    with pytest.raises(ValueError, match="lacks.*framing: fixed"):
        cutouts.cutout_scales(catalog[["objID"]], "petrosian", 128, 0.296)
    with pytest.raises(ValueError, match="framing is 'zoomed'"):
        cutouts.cutout_scales(catalog, "zoomed", 128, 0.296)


def test_pack_records_each_scale_and_lists_the_unframed(store):
    tmp, catalog, manifests, root = store
    sized = catalog.assign(petroR90_r=[4.0, 6.0, 8.0, 5.0, -9999.0, 7.0])
    index = images.pack_cutouts(
        sized,
        manifests,
        root,
        2,
        16,
        tmp / "a.npy",
        tmp / "i.parquet",
        tmp / "x.parquet",
        framing="petrosian",
        scale=0.296,
        framing_factor=2.0,
    )
    # 105 has a cutout on disk but no usable size: it is excluded as unframed, not packed.
    assert list(index["objID"]) == [101, 102, 103]
    np.testing.assert_allclose(index["scale"], cutouts.framing_scale([4.0, 6.0, 8.0], 16))
    excluded = pd.read_parquet(tmp / "x.parquet").set_index("objID")
    assert excluded.at[105, "status"] == cutouts.UNFRAMED and "-9999" in excluded.at[105, "reason"]
    assert set(excluded.index) == {104, 105, 106}
    fixed = images.pack_cutouts(
        catalog, manifests, root, 2, 16, tmp / "b.npy", tmp / "j.parquet", tmp / "y.parquet"
    )
    assert (fixed["scale"] == 0.296).all()

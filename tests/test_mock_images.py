"""Mock cutouts: SkyServer-like JPEGs with a sky like the real one, colour order, determinism and
resuming shards."""

import io

import numpy as np
import pandas as pd
import pytest
from mock_cutouts import REAL_SKY, decoded
from PIL import Image

from galcnn import cutouts
from galcnn.mock import images as mi

SIZE, SCALE = 128, 0.296
#: How far the mock may stray beyond the real range (five real cutouts are a small sample).
TOLERANCE = 1.5


def galaxy(objid=1237648720693755918, colour=0.0, **extra):
    """A truth row: ``colour`` > 0 makes it red (bright in i, faint in g), < 0 blue."""
    row = {
        "objID": objid,
        "bulge_n": 4.0,
        "bulge_hlr": 0.8,
        "bulge_q": 0.8,
        "disk_hlr": 3.0,
        "disk_q": 0.5,
        "beta": 30.0,
        "colour_gradient": 0.3,
        "psf_fwhm": 1.4,
        "n_neighbours": 0,
        "n_stars": 0,
    }
    for band, k in (("g", -1.0), ("r", 0.0), ("i", 1.0)):
        total = 40.0 * 10 ** (0.4 * k * colour)
        row[f"flux_bulge_{band}"], row[f"flux_disk_{band}"] = 0.3 * total, 0.7 * total
    row.update(extra)
    return pd.Series(row)


def test_cutout_is_a_valid_skyserver_like_jpeg():
    rgb = mi.render_cutout(galaxy(n_neighbours=2, n_stars=1), SIZE, SCALE, np.random.default_rng(0))
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8
    data = mi.encode_jpeg(rgb)
    assert cutouts.check_jpeg(data, SIZE) == (cutouts.OK, "")
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (SIZE, SIZE) and img.mode == "RGB"
    centre, corner = rgb[54:74, 54:74].astype(float), rgb[:16, :16].astype(float)
    assert (
        centre.mean() > corner.mean() + 5 * corner.std()
    )  # the galaxy stands out of the sky's noise


def test_mock_sky_matches_real_dr14_cutouts(demo_cutouts):
    _, rgbs = demo_cutouts
    stats = pd.DataFrame([cutouts.sky_statistics(decoded(rgb)) for rgb in rgbs])
    for name, (lo, hi) in REAL_SKY.items():
        typical = stats[name].quantile([0.25, 0.5, 0.75])
        assert lo / TOLERANCE <= typical.min() and typical.max() <= hi * TOLERANCE, (
            name,
            typical.tolist(),
        )


def test_brightest_cores_saturate_and_faint_ones_do_not(demo_cutouts):
    rows, rgbs = demo_cutouts
    core = SIZE // 2 - 4, SIZE // 2 + 4
    saturated = pd.Series(
        [decoded(rgb)[core[0] : core[1], core[0] : core[1]].max() >= 250 for rgb in rgbs],
        index=rows.index,
    )
    flux_r = rows["flux_bulge_r"] + rows["flux_disk_r"]
    brightest = flux_r.nlargest(len(rows) // 20).index
    assert saturated[brightest].mean() >= 0.25
    assert saturated.drop(brightest).mean() <= 0.05


@pytest.mark.parametrize("colour, redder", [(1.0, True), (-1.0, False)])
def test_channels_are_i_r_g(colour, redder):
    rgb = mi.render_cutout(galaxy(colour=colour), SIZE, SCALE, np.random.default_rng(1)).astype(
        float
    )
    centre = rgb[52:76, 52:76]
    assert (centre[..., 0].mean() > centre[..., 2].mean()) == redder


def test_same_seed_and_objid_give_identical_bytes():
    row = galaxy(n_neighbours=1, n_stars=1)
    one = mi.encode_jpeg(mi.render_cutout(row, SIZE, SCALE, mi.galaxy_rng(3, row["objID"])))
    two = mi.encode_jpeg(mi.render_cutout(row, SIZE, SCALE, mi.galaxy_rng(3, row["objID"])))
    other = mi.encode_jpeg(mi.render_cutout(row, SIZE, SCALE, mi.galaxy_rng(4, row["objID"])))
    assert one == two and one != other


def test_render_shard_resumes_and_repairs(tmp_path):
    truth = pd.DataFrame(
        [galaxy(objid=1237648720693755918 + 7 * k, colour=0.3 * k - 0.6) for k in range(5)]
    )
    shard = 0
    first = mi.render_shard(truth, tmp_path, shard, 1, SIZE, SCALE, seed=9)
    assert list(first.columns) == list(cutouts.MANIFEST_COLUMNS)
    assert (first["status"] == cutouts.OK).all() and len(first) == 5
    paths = [cutouts.cutout_path(tmp_path, shard, o) for o in truth["objID"]]
    original = {p: p.read_bytes() for p in paths}
    stamps = {p: p.stat().st_mtime_ns for p in paths}

    bad = paths[2]
    bad.write_bytes(b"<html>error</html>")
    second = mi.render_shard(truth, tmp_path, shard, 1, SIZE, SCALE, seed=9)
    assert (second["status"] == cutouts.OK).all()
    assert bad.read_bytes() == original[bad]  # re-rendered, identically
    assert all(
        p.stat().st_mtime_ns == stamps[p] for p in paths if p != bad
    )  # the rest were skipped
    assert (
        pd.read_parquet(cutouts.manifest_path(tmp_path, shard))["objID"].tolist()
        == truth["objID"].tolist()
    )


def test_render_shard_refuses_a_shard_outside_the_range(tmp_path):
    with pytest.raises(ValueError, match="cutouts.shards"):
        mi.render_shard(pd.DataFrame([galaxy()]), tmp_path, 4, 4, SIZE, SCALE, seed=1)


def test_render_shard_draws_each_galaxy_at_its_own_scale(tmp_path):
    """A ``scale`` column (cutouts.framing: petrosian) is each galaxy's arcsec per pixel, as
    ImgCutout's; other scales later re-render the shard instead of reusing its files."""
    # Small objIDs: a truth row of floats holds them exactly.
    truth = pd.DataFrame([galaxy(objid=1001 + k) for k in range(2)])
    truth["scale"] = [0.15, 0.45]
    mi.render_shard(truth, tmp_path, 0, 1, 64, SCALE, seed=9)
    for _, row in truth.iterrows():
        path = cutouts.cutout_path(tmp_path, 0, row["objID"])
        expected = mi.render_cutout(row, 64, row["scale"], mi.galaxy_rng(9, row["objID"]))
        assert path.read_bytes() == mi.encode_jpeg(expected)
    # The same galaxy framed three times wider looks smaller: fewer pixels above the sky.
    small, large = (
        np.asarray(Image.open(cutouts.cutout_path(tmp_path, 0, o)).convert("RGB")).mean(axis=2) > 30
        for o in truth["objID"]
    )
    assert large.sum() < small.sum() / 4
    stamp = (cutouts.shard_dir(tmp_path, 0) / "settings.json").read_text()
    mi.render_shard(truth.assign(scale=[0.2, 0.45]), tmp_path, 0, 1, 64, SCALE, seed=9)
    assert (cutouts.shard_dir(tmp_path, 0) / "settings.json").read_text() != stamp

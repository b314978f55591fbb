"""Mock cutouts: SkyServer-like JPEGs with a sky like the real one, colour order, per-galaxy framing,
determinism and resuming shards."""

import io

import numpy as np
import pandas as pd
import pytest
from mock_cutouts import REAL_SKY, decoded
from PIL import Image

from galcnn import cutouts, realism
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
    }
    for band, k in (("g", -1.0), ("r", 0.0), ("i", 1.0)):
        total = 40.0 * 10 ** (0.4 * k * colour)
        row[f"flux_bulge_{band}"], row[f"flux_disk_{band}"] = 0.3 * total, 0.7 * total
    row.update(extra)
    return pd.Series(row)


def test_cutout_is_a_valid_skyserver_like_jpeg():
    rgb = mi.render_cutout(galaxy(), SIZE, SCALE, np.random.default_rng(0))
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


def test_cores_are_as_bright_as_real_ones_and_rarely_saturate(demo_cutouts):
    """Real DR14 cutouts of the paper's galaxies: the brightest pixel of the central 8 px is 166
    [124, 209] (median [10-90 %]) and 2 of 500 reach 250. The mock: the same, brighter for
    brighter galaxies."""
    rows, rgbs = demo_cutouts
    core = SIZE // 2 - 4, SIZE // 2 + 4
    peak = pd.Series(
        [int(decoded(rgb)[core[0] : core[1], core[0] : core[1]].max()) for rgb in rgbs],
        index=rows.index,
    )
    assert 124 <= peak.median() <= 209
    assert (peak >= 250).mean() <= 0.05
    flux_r = rows["flux_bulge_r"] + rows["flux_disk_r"]
    assert (
        peak[flux_r.nlargest(len(rows) // 5).index].median()
        > peak[flux_r.nsmallest(len(rows) // 5).index].median()
    )


@pytest.mark.parametrize("colour, redder", [(1.0, True), (-1.0, False)])
def test_channels_are_i_r_g(colour, redder):
    rgb = mi.render_cutout(galaxy(colour=colour), SIZE, SCALE, np.random.default_rng(1)).astype(
        float
    )
    centre = rgb[52:76, 52:76]
    assert (centre[..., 0].mean() > centre[..., 2].mean()) == redder


def test_same_seed_and_objid_give_identical_bytes():
    row = galaxy()
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


def test_a_scale_column_frames_each_galaxy_and_stale_cutouts_are_redrawn(tmp_path):
    """The framing contract: a ``scale`` column (arcsec/px per galaxy) overrides the fixed scale."""
    row = galaxy()
    fixed = mi.render_shard(pd.DataFrame([row]), tmp_path / "fixed", 0, 1, SIZE, SCALE, seed=9)
    zoomed = pd.DataFrame([row]).assign(scale=SCALE / 2)
    first = mi.render_shard(zoomed, tmp_path / "framed", 0, 1, SIZE, SCALE, seed=9)

    def radius(manifest):
        with Image.open(manifest["path"][0]) as img:
            return realism.statistics(np.asarray(img.convert("RGB")))["r_iso_px"]

    # Half the arcsec per pixel: the same galaxy spans about twice the pixels.
    assert 1.6 < radius(first) / radius(fixed) < 2.4
    path = cutouts.cutout_path(tmp_path / "framed", 0, int(row["objID"]))
    before = path.read_bytes()
    mi.render_shard(zoomed.assign(scale=SCALE / 3), tmp_path / "framed", 0, 1, SIZE, SCALE, seed=9)
    assert path.read_bytes() != before  # another scale: the stored cutout was stale and redrawn


def test_the_sky_is_clipped_per_channel_before_the_stretch():
    """Pure sky noise: each channel black about half the time, the brightest channel far less often,
    and the i band's larger noise makes the sky red (R above B), as on real cutouts."""
    rng = np.random.default_rng(5)
    n = 200
    bands = {b: rng.normal(0.0, mi.sky_sigma(b), (n, n)) for b in ("g", "r", "i")}
    rgb = mi.frame_rgb(bands).astype(float)
    assert all(0.4 < (rgb[..., c] == 0).mean() < 0.6 for c in range(3))
    assert (rgb.max(axis=-1) == 0).mean() < 0.2
    assert rgb[..., 0].mean() > rgb[..., 2].mean()

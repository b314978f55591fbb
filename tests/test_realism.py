"""The realism statistics, the mock against real DR14 cutouts, and the blank rule on real skies."""

import mock_cutouts
import numpy as np
import pytest
from PIL import Image

from galcnn import cutouts, realism
from galcnn.mock import images as mi

REAL = mock_cutouts.real_cutouts(selection=None)


def pixels(path):
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_fixture_holds_the_50_real_cutouts_with_their_provenance():
    assert len(REAL) == 50 and all(p.exists() for p in REAL)
    assert len(mock_cutouts.real_cutouts("even")) == 40
    assert "Sloan" in (mock_cutouts.REAL_CUTOUTS / "README.md").read_text()


def test_statistics_see_what_they_are_meant_to():
    """A red sky with one star on it, and a blue disc at the centre."""
    rng = np.random.default_rng(0)
    img = np.zeros((128, 128, 3))
    img[..., 0] = np.clip(rng.normal(4, 4, (128, 128)), 0, None)  # red sky noise
    y, x = np.mgrid[:128, :128]
    img[(y - 63.5) ** 2 + (x - 63.5) ** 2 < 20**2] = (40, 80, 160)
    img[(y - 20) ** 2 + (x - 100) ** 2 < 3**2] = 200
    s = realism.statistics(img.astype(np.uint8))
    assert s["sky_r_minus_b"] > 2 and s["ctr_r_minus_b"] < -0.3
    assert s["n_neighbours"] == 1 and 19 < s["r_iso_px"] < 21
    assert abs(s["noise_ac1"]) < 0.1  # white noise
    assert s["black_win32"] > 0.2


def test_the_blank_rule_flags_no_real_galaxy():
    """Not even the 10 darkest skies of the 500 (a 32 px square up to 98 % black)."""
    verdicts = {p.name: cutouts._blank_reason(pixels(p)) for p in REAL}
    assert {k: v for k, v in verdicts.items() if v != (cutouts.OK, "")} == {}


@pytest.mark.parametrize("region", mock_cutouts.ZEROED_REGIONS)
def test_real_cutouts_partly_off_the_footprint_are_blank(region):
    """The dark real skies must not hide a zeroed strip: every one is still flagged."""
    for path in REAL[::5]:
        rgb = mock_cutouts.zeroed(pixels(path), region)
        status, reason = cutouts.check_jpeg(mi.encode_jpeg(rgb), 128)
        assert status == cutouts.BLANK and "zero-valued" in reason, (path.name, reason)


def test_mock_cutouts_look_like_the_real_ones():
    """60 demo galaxies framed like the real cutouts: every statistic's median inside the real
    10-90 % range of the fixture's 40 evenly chosen cutouts."""
    catalog, truth = mock_cutouts.demo_survey()
    truth = mock_cutouts.with_petrosian_scale(catalog, truth)
    rows = truth.iloc[np.linspace(0, len(truth) - 1, 60).round().astype(int)]
    mock = realism.measure(mock_cutouts.decoded(mock_cutouts.render(r)) for _, r in rows.iterrows())
    table = realism.compare(realism.measure(mock_cutouts.real_cutouts("even")), mock)
    assert table["within"].all(), table.to_string()

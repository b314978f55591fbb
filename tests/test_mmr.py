"""Tremonti et al. (2004) eq. 3 and the count-weighted MMR scatter ratio."""

import numpy as np
import pandas as pd
import pytest

from galcnn.catalog import SENTINEL
from galcnn.mmr import (
    build_mmr_table,
    in_tremonti_range,
    mmr_edges,
    mmr_sample,
    mmr_table,
    scatter_ratio,
    tremonti_metallicity,
    weighted_ratio,
)


def test_tremonti_at_known_masses():
    # -1.492 + 1.847 x - 0.08026 x^2
    assert tremonti_metallicity([9.0, 10.0, 11.0]) == pytest.approx([8.62994, 8.952, 9.11354])


def test_tremonti_refuses_masses_outside_its_fit():
    with pytest.raises(ValueError, match="outside the Tremonti"):
        tremonti_metallicity([10.0, 12.0])
    assert tremonti_metallicity([12.0], extrapolate=True)[0] == pytest.approx(
        -1.492 + 1.847 * 12 - 0.08026 * 144
    )
    assert in_tremonti_range([8.4, 8.5, 9.0, 11.5]).tolist() == [False, False, True, False]


def test_weighted_ratio_by_hand():
    out = weighted_ratio([0.8, 0.9, 0.7], [10, 30, 10])
    assert out["ratio"] == pytest.approx((8 + 27 + 7) / 50)  # 0.84
    assert out["spread"] == pytest.approx(
        np.sqrt((10 * 0.04**2 + 30 * 0.06**2 + 10 * 0.14**2) / 50)
    )  # 0.08
    assert out["n"] == 50 and out["bins"] == 3


def test_weighted_ratio_without_bins_is_nan():
    out = weighted_ratio([], [])
    assert np.isnan(out["ratio"]) and out["bins"] == 0


def _bin_sample(center, values):
    return np.full(len(values), center), np.asarray(values, dtype=float)


def test_scatter_ratio_per_bin_and_weighting():
    # Bin [9.0, 9.2): SDSS NMAD 1.4826*0.2, CNN half of it, 20 galaxies each.
    # Bin [9.2, 9.4): SDSS and CNN equal, 60 galaxies each. Bin [9.4, 9.6): 3 galaxies, unused.
    sdss_z = np.tile([8.8, 9.0, 9.2, 9.0], 5)
    cnn_z = np.tile([8.9, 9.0, 9.1, 9.0], 5)
    wide = np.tile([8.7, 9.0, 9.3], 20)
    m1, z1 = _bin_sample(9.1, sdss_z)
    m2, z2 = _bin_sample(9.3, wide)
    m3, z3 = _bin_sample(9.5, [9.0, 9.1, 9.2])
    mass = np.concatenate([m1, m2, m3])
    table, summary = scatter_ratio(
        mass,
        np.concatenate([z1, z2, z3]),
        mass,
        np.concatenate([cnn_z, wide, z3]),
        [9.0, 9.2, 9.4, 9.6],
    )
    assert table["n_sdss"].tolist() == [20, 60, 3]
    assert table["used"].tolist() == [True, True, False]
    assert table["ratio"].iloc[:2].tolist() == pytest.approx([0.5, 1.0])
    assert np.isnan(table["ratio"].iloc[2])
    assert summary["ratio"] == pytest.approx((20 * 0.5 + 60 * 1.0) / 80)
    assert summary["spread"] == pytest.approx(np.sqrt((20 * 0.375**2 + 60 * 0.125**2) / 80))


def test_mmr_table_from_predictions_and_catalogue():
    rng = np.random.default_rng(0)
    n = 400
    mass = rng.uniform(9.0, 10.0, n)
    z = tremonti_metallicity(mass) + rng.normal(0, 0.1, n)
    catalog = pd.DataFrame({"objID": np.arange(n), "lgm_tot_p50": mass})
    catalog.loc[:9, "lgm_tot_p50"] = SENTINEL  # 10 galaxies without a mass
    z_pred = pd.DataFrame(
        {"objID": np.arange(n), "true": z, "pred": z.mean() + 0.5 * (z - z.mean())}
    )
    m_pred = pd.DataFrame(
        {"objID": np.arange(n), "true": mass, "pred": mass + rng.normal(0, 0.2, n)}
    )
    sample = mmr_sample(z_pred, catalog, m_pred)
    assert len(sample) == n - 10 and (sample["mass_true"] > 0).all()
    table = mmr_table(sample, np.round(np.arange(8.5, 11.51, 0.2), 6))
    assert set(table["comparison"]) == {"cnn_metallicity", "cnn_mass"}
    weighted = table[table["kind"] == "weighted"].set_index("comparison")
    # CNN metallicity is the truth squeezed by half about its mean: the ratio is ~0.5 in every bin.
    assert weighted.loc["cnn_metallicity", "ratio"] == pytest.approx(0.5, abs=0.02)
    assert weighted.loc["cnn_metallicity", "ratio_spread"] < 0.02
    with pytest.raises(ValueError, match="z_true"):
        mmr_table(sample.drop(columns="z_true"), [9.0, 10.0])


def test_the_authors_selection_and_bins_are_written_beside_the_ratio(tmp_path):
    rng = np.random.default_rng(1)
    n = 600
    mass = rng.uniform(8.0, 11.5, n)
    z = tremonti_metallicity(mass, extrapolate=True) + rng.normal(0, 0.1, n)
    pd.DataFrame({"objID": np.arange(n), "lgm_tot_p50": mass}).to_parquet(tmp_path / "cat.parquet")
    pd.DataFrame(
        {"objID": np.arange(n), "true": z, "pred": z.mean() + 0.5 * (z - z.mean())}
    ).to_parquet(tmp_path / "z.parquet")
    edges = mmr_edges(8.4, 11.4, 0.2)
    assert np.allclose(
        0.5 * (edges[:-1] + edges[1:]), np.arange(8.5, 11.31, 0.2)
    )  # the authors' centres
    table = build_mmr_table(
        tmp_path / "z.parquet",
        tmp_path / "cat.parquet",
        None,
        edges,
        tmp_path / "mmr.csv",
        min_mass=8.5,
        z_true=[8.25, 9.15],
        min_count=1,
    )
    stored = pd.read_csv(tmp_path / "mmr.csv")
    assert (
        (stored[["min_mass", "z_true_min", "z_true_max", "min_count"]] == [8.5, 8.25, 9.15, 1])
        .all()
        .all()
    )
    bins = table[table["kind"] == "bin"]
    keep = (mass > 8.5) & (z > 8.25) & (z < 9.15)
    assert bins["n_sdss"].sum() == int((keep & (mass < 11.4)).sum())
    # no selection: more galaxies, and the bounds are written as empty
    open_table = build_mmr_table(
        tmp_path / "z.parquet",
        tmp_path / "cat.parquet",
        None,
        edges,
        tmp_path / "all.csv",
        min_mass=None,
        z_true=[None, None],
        min_count=1,
    )
    assert open_table.loc[open_table["kind"] == "bin", "n_sdss"].sum() > bins["n_sdss"].sum()
    assert pd.read_csv(tmp_path / "all.csv")[["min_mass", "z_true_min"]].isna().all().all()
    with pytest.raises(ValueError, match="mmr.min_mass or mmr.z_true"):
        build_mmr_table(
            tmp_path / "z.parquet",
            tmp_path / "cat.parquet",
            None,
            edges,
            tmp_path / "none.csv",
            min_mass=12.0,
        )

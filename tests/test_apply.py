"""The apply stage's catalogue checks, mock galaxies for new positions, and the results table."""

import numpy as np
import pandas as pd
import pytest

from galcnn import apply
from galcnn.mock.catalog import simulate_catalog

CUTS = {
    "petroMag_r": [None, 18.0],
    "u_minus_r": [None, 2.5],
    "modelMag": [0, 30],
    "rChi2": [None, 2.0],
    "zErr": [0.0, 0.01],
    "z": [0.02, None],
    "measured": ["oh_p50"],
}


def write(tmp_path, frame, name="cat.csv"):
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    return path


def test_a_good_catalogue_keeps_its_columns_and_gets_stable_ids(tmp_path):
    frame = pd.DataFrame(
        {
            "ra": [150.0, 10.5, 359.9],
            "dec": [2.0, -89.0, 90.0],
            "z": [0.05, 0.1, np.nan],
            "name": ["a", "b", "c"],
        }
    )
    cat = apply.read_catalog(write(tmp_path, frame))
    assert list(cat.columns) == ["objID", "ra", "dec", "z", "name"] and cat["objID"].is_unique
    # Ids come from the position: the same in any row order and file format.
    again = apply.read_catalog(write(tmp_path, frame.iloc[::-1], "cat.parquet"))
    assert dict(zip(again["name"], again["objID"])) == dict(zip(cat["name"], cat["objID"]))
    given = apply.read_catalog(write(tmp_path, frame.assign(objID=[7, 8, 9]), "ids.csv"))
    assert list(given["objID"]) == [7, 8, 9] and given.columns[0] == "objID"


@pytest.mark.parametrize(
    "frame, message",
    [
        (
            pd.DataFrame({"RA": [1.0], "dec": [2.0]}),
            r"lacks column\(s\) \['ra'\] \(it has \['RA', 'dec'\]\)",
        ),
        (
            pd.DataFrame({"ra": [1.0, np.nan, 3.0], "dec": [0.0, 0.0, 0.0]}),
            r"column 'ra' is missing or not a number in 1 row\(s\) \(1;",
        ),
        (
            pd.DataFrame({"ra": [1.0, 2.0], "dec": ["north", 0.0]}),
            r"column 'dec' is missing or not a number in 1 row\(s\) \(0;",
        ),
        (
            pd.DataFrame({"ra": [1.0, 360.0, -1.0], "dec": [0.0, 0.0, 0.0]}),
            r"column 'ra' is outside \[0, 360\) degrees in 2 row\(s\) \(1, 2;",
        ),
        (
            pd.DataFrame({"ra": [1.0, 2.0], "dec": [0.0, 90.5]}),
            r"column 'dec' is outside \[-90, 90\] degrees in 1 row\(s\) \(1;",
        ),
        (
            pd.DataFrame({"objID": [5, 6, 5], "ra": [1.0, 2.0, 3.0], "dec": [0.0, 0.0, 0.0]}),
            r"duplicated objID in 2 row\(s\) \(0, 2;.*e.g. objID 5",
        ),
        (
            pd.DataFrame({"ra": [1.0, 2.0, 1.0], "dec": [0.5, 0.0, 0.5]}),
            r"duplicated position \(ids are made from ra, dec\) in 2 row\(s\) \(0, 2;",
        ),
        (
            pd.DataFrame({"objID": [1.5, 2], "ra": [1.0, 2.0], "dec": [0.0, 0.0]}),
            r"column 'objID' is missing or not an integer in 1 row\(s\) \(0;",
        ),
        (
            pd.DataFrame({"ra": [1.0], "dec": [0.0], "status": ["x"]}),
            r"has column\(s\) \['status'\], which the results use",
        ),
        (
            pd.DataFrame({"ra": [1.0], "dec": [0.0], "oh_p50_pred": [9.0]}),
            r"has column\(s\) \['oh_p50_pred'\], which the results use",
        ),
    ],
)
def test_a_bad_catalogue_is_refused_naming_the_column_and_rows(tmp_path, frame, message):
    path = write(tmp_path, frame)
    with pytest.raises(ValueError, match=message) as err:
        apply.read_catalog(path, targets=["oh_p50"])
    assert str(path) in str(err.value)


def test_many_bad_rows_are_counted_and_the_first_shown(tmp_path):
    path = write(tmp_path, pd.DataFrame({"ra": np.full(30, 400.0), "dec": 0.0}))
    with pytest.raises(ValueError, match=r"in 30 row\(s\) \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\.;"):
        apply.read_catalog(path)


def test_a_missing_unreadable_or_empty_file_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere.csv does not exist"):
        apply.read_catalog(tmp_path / "nothere.csv")
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ValueError, match=r"bad.parquet cannot be read as parquet"):
        apply.read_catalog(tmp_path / "bad.parquet")
    (tmp_path / "cat.fits").write_bytes(b"SIMPLE")
    with pytest.raises(ValueError, match=r"unknown format '.fits'; give a .csv or .parquet"):
        apply.read_catalog(tmp_path / "cat.fits")
    for name, content in (("empty.csv", ""), ("header.csv", "ra,dec\n")):
        (tmp_path / name).write_text(content)
        with pytest.raises(ValueError, match=rf"{name} has no rows"):
            apply.read_catalog(tmp_path / name)


def test_mock_galaxies_for_new_positions_are_drawn_once_per_catalogue():
    cat = pd.DataFrame({"objID": np.arange(40, dtype=np.int64) * 7 + 3})
    truth = apply.mock_truth(cat, seed=7, cuts=CUTS)
    assert sorted(truth["objID"]) == sorted(cat["objID"]) and truth["objID"].is_unique
    pd.testing.assert_frame_equal(truth, apply.mock_truth(cat.iloc[::-1], seed=7, cuts=CUTS))
    # New galaxies, not the training draw of the same mock seed.
    _, train_truth = simulate_catalog(100, 7, CUTS)
    assert not np.isin(truth["logm"].to_numpy(), train_truth["logm"].to_numpy()).any()
    assert not truth["logm"].equals(apply.mock_truth(cat.iloc[:39], seed=7, cuts=CUTS)["logm"])
    # Each position is framed by the size of the mock galaxy drawn for it, whatever the file said.
    framed = apply.with_mock_sizes(cat.assign(petroR90_r=-1.0), truth)
    assert (framed["petroR90_r"] > 1).all() and list(framed.columns) == ["objID", "petroR90_r"]
    by_id = truth.set_index("objID")["petroR90_r"]
    assert np.allclose(framed["petroR90_r"], by_id.loc[cat["objID"]].to_numpy())


def test_real_sky_catalogue_framed_per_galaxy_needs_petroR90(tmp_path):
    path = write(tmp_path, pd.DataFrame({"ra": [10.0], "dec": [1.0]}))
    with pytest.raises(ValueError, match="lacks column 'petroR90_r'.*cutouts.framing: petrosian"):
        apply.read_catalog(path, needs_size=True)
    assert "petroR90_r" not in apply.read_catalog(path).columns


def test_values_beyond_the_training_range_are_flagged():
    training = pd.DataFrame(
        {"objID": [1, 2, 3, 4], "z": [0.02, 0.1, 0.2, 0.5], "petroMag_r": [14.0, 15.0, 17.9, 12.0]}
    )
    splits = pd.DataFrame({"objID": [1, 2, 3, 4], "split": ["train", "train", "train", "test"]})
    ranges = apply.training_ranges(training, splits)
    assert ranges == {
        "z": (0.02, 0.2),
        "petroMag_r": (14.0, 17.9),
    }  # the test galaxy does not count
    new = pd.DataFrame({"z": [0.1, 0.3, 0.01, np.nan], "petroMag_r": [15.0, 19.0, 15.0, 13.0]})
    assert list(apply.domain_flags(new, ranges).map(";".join)) == [
        "",
        "z_above_training;petroMag_r_above_training",
        "z_below_training",
        "petroMag_r_below_training",
    ]


def test_the_table_holds_every_galaxy_with_its_status():
    cat = pd.DataFrame(
        {"objID": [10, 20, 30, 40], "ra": 1.0, "dec": 2.0, "z": [0.05, 0.05, 0.9, 0.05]}
    )
    manifests = pd.DataFrame(
        {
            "objID": [10, 20, 30, 40],
            "status": ["ok", "blank", "ok", "failed"],
            "reason": ["", "off footprint", "", "HTTP 500"],
            "path": "",
        }
    )
    index = pd.DataFrame({"objID": [30, 10], "row": [0, 1]})
    excluded = pd.DataFrame(
        {"objID": [20, 40], "status": ["blank", "failed"], "reason": ["off footprint", "HTTP 500"]}
    )
    status = apply.cutout_status(cat, manifests, index, excluded)
    preds = {
        t: pd.DataFrame(
            {
                "objID": [30, 10],
                "pred": [9.1, 8.9],
                "sigma": [0.1, 0.2],
                "sigma_raw": [0.01, 0.02],
                "n_models": [16, 16],
            }
        )
        for t in ("oh_p50", "lgm_tot_p50")
    }
    table = apply.assemble(cat, status, preds, {"z": (0.02, 0.3)})
    assert list(table.columns) == [
        "objID",
        "ra",
        "dec",
        "z",
        *apply.target_columns("oh_p50"),
        *apply.target_columns("lgm_tot_p50"),
        "status",
        "reason",
        "flags",
    ]
    assert list(table["status"]) == ["ok", "blank", "ok", "failed"]
    assert list(table["reason"]) == ["", "off footprint", "", "HTTP 500"]
    assert list(table["flags"]) == ["", "cutout_blank", "z_above_training", ""]
    assert table["oh_p50_pred"].tolist()[0] == 8.9 and table["oh_p50_pred"].isna().tolist() == [
        False,
        True,
        False,
        True,
    ]
    assert list(table["oh_p50_n_models"]) == [16, 0, 16, 0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("1e30", r"negative or not below 2\^63 in 1 row\(s\) \(0;.*'1e30'"),
        ("12345678901234567890", r"negative or not below 2\^63 in 1 row\(s\) \(0;"),
        ("-5", r"negative or not below 2\^63 in 1 row\(s\) \(0;"),
        ("12.5", r"missing or not an integer in 1 row\(s\) \(0;"),
    ],
)
def test_objids_that_do_not_fit_are_refused_not_wrapped(tmp_path, text, message):
    path = tmp_path / "ids.csv"
    path.write_text(f"objID,ra,dec\n{text},1.0,2.0\n7,3.0,4.0\n")
    with pytest.raises(ValueError, match=message):
        apply.read_catalog(path)


def test_objids_are_read_exactly_whatever_their_format(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("objID,ra,dec\n1237648720693755918.0,1.0,2.0\n+1237648720693755919,3.0,4.0\n")
    assert apply.read_catalog(path)["objID"].tolist() == [1237648720693755918, 1237648720693755919]
    floats = write(
        tmp_path,
        pd.DataFrame({"objID": [1237648720693755918.0], "ra": [1.0], "dec": [2.0]}),
        "f.parquet",
    )
    with pytest.raises(ValueError, match=r"floating-point ids above 2\^53 in 1 row"):
        apply.read_catalog(floats)


def test_reserved_names_with_spaces_and_repeated_columns_are_refused(tmp_path):
    spaced = write(tmp_path, pd.DataFrame({"ra": [1.0], "dec": [0.0], "status ": ["x"]}))
    with pytest.raises(ValueError, match=r"has column\(s\) \['status '\], which the results use"):
        apply.read_catalog(spaced)
    twice = tmp_path / "twice.csv"
    twice.write_text("ra,dec,ra\n1.0,2.0,3.0\n")
    with pytest.raises(ValueError, match=r"has column\(s\) \['ra'\] more than once"):
        apply.read_catalog(twice)


def test_spreadsheet_formulas_are_escaped_in_the_csv_only():
    table = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","y")', "+1", "-a", "@SUM(A1)", "plain", None],
            "oh_p50_pred": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    safe = apply.spreadsheet_safe(table)
    assert safe["name"].tolist()[:5] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1",
        "'-a",
        "'@SUM(A1)",
        "plain",
    ]
    assert pd.isna(safe["name"].iloc[5])
    assert safe["oh_p50_pred"].tolist() == table["oh_p50_pred"].tolist()
    assert table["name"].iloc[0].startswith("=")  # the input is not changed


@pytest.mark.parametrize(
    "catalog, name, message",
    [
        ("one.csv", "..", r"config apply.name = '\.\.' is not a plain name"),
        ("one.csv", ".", r"config apply.name = '\.' is not a plain name"),
        ("one.csv", "a/b", r"config apply.name = 'a/b' is not a plain name"),
        ("...csv", "", r"the name of apply.catalog '\.\.\.csv' .* = '\.\.' is not a plain name"),
        ("$(touch x).csv", "", r"'\$\(touch x\)' is not a plain name"),
        ("a b;c.csv", "", r"'a b;c' is not a plain name"),
    ],
)
def test_an_apply_name_that_is_not_a_plain_name_is_refused(catalog, name, message):
    with pytest.raises(ValueError, match=message):
        apply.results_name(catalog, name)


def test_an_apply_name_comes_from_the_config_or_the_file_name():
    assert apply.results_name("data/new_galaxies.v2.csv", "") == "new_galaxies.v2"
    assert apply.results_name("data/x.csv", "batch-1") == "batch-1"
    assert apply.results_name("", "") == ""

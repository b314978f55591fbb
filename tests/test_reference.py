"""The published reference: fetching, verifying, storing, and its use in the summary, splits and comparison."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import requests
from servers import PUBLISHED_NAMES, FileServer, published_config, published_csvs

from galcnn import reference as ref
from galcnn.metrics import nmad, rmse
from galcnn.sdss import web
from galcnn.splits import make_splits
from galcnn.summary import summary_table

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FOLDER = "catalogs/post-submission"


def files_of(entries):
    return [ref.PublishedFile(e["resolution"], e["name"], e["sha256"]) for e in entries]


def served(bodies):
    return {f"/{COMMIT}/{FOLDER}/{PUBLISHED_NAMES[res]}": body for res, body in bodies.items()}


def fetch(tmp_path, url, entries, local_dir=None, retries=2):
    outputs = {
        e["resolution"]: str(tmp_path / "out" / f"{e['resolution']}px.parquet") for e in entries
    }
    status = tmp_path / "out" / "status.json"
    result = ref.fetch_reference(
        files_of(entries),
        outputs,
        str(status),
        base_url=url,
        commit=COMMIT,
        folder=FOLDER,
        local_dir=str(local_dir) if local_dir else None,
        target="oh_p50",
        bands="gri",
        retries=retries,
        timeout=5,
    )
    return result, outputs, status


def expected(body: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(body))
    return frame.rename(columns={"oh_p50": "true", "prediction": "pred"})


def test_fetch_verifies_stores_and_caches_every_file(tmp_path):
    bodies = published_csvs(150)
    entries = published_config(bodies)
    cache = tmp_path / "cache"
    with FileServer(served(bodies)) as server:
        result, outputs, status = fetch(tmp_path, server.url + "/", entries, local_dir=cache)
        assert len(server.requests) == 4
    assert result.available and result.source == "jwuphysics/galaxy-cnns@0123456"
    for res, body in bodies.items():
        stored = pd.read_parquet(outputs[res])
        assert list(stored.columns) == list(ref.COLUMNS) and stored["objID"].dtype == np.int64
        pd.testing.assert_frame_equal(stored, expected(body))
        assert (cache / PUBLISHED_NAMES[res]).read_bytes() == body  # kept for the next run
    record = json.loads(status.read_text())
    assert record["available"] and record["files"]["128"]["rows"] == 150

    # The cached copies are used without the network (nothing listens on port 9).
    (tmp_path / "out").rename(tmp_path / "first")
    again, outputs, _ = fetch(tmp_path, "http://127.0.0.1:9", entries, local_dir=cache)
    assert again.available
    pd.testing.assert_frame_equal(pd.read_parquet(outputs[64]), expected(bodies[64]))


def test_offline_writes_an_explicit_unavailable_record(tmp_path):
    entries = published_config(published_csvs(20))
    result, outputs, status = fetch(
        tmp_path, "http://127.0.0.1:9", entries, local_dir=tmp_path / "by-hand", retries=1
    )
    assert not result.available
    record = json.loads(status.read_text())
    assert record["available"] is False
    assert (
        str(tmp_path / "by-hand") in record["reason"]
        and "predictions_16-oh_p50.csv" in record["reason"]
    )
    assert "--forcerun reference_fetch" in record["reason"]
    assert all(pd.read_parquet(p).empty for p in outputs.values())
    loaded = ref.load_reference(status, outputs)
    assert not loaded.available and "unavailable" in loaded.describe()


def test_a_server_that_keeps_failing_counts_as_unreachable(tmp_path):
    bodies = published_csvs(20)
    paths = served(bodies)
    with FileServer(paths, faults=dict.fromkeys(paths, "503")) as server:
        result, _, _ = fetch(tmp_path, server.url, published_config(bodies), retries=2)
        assert len(server.requests) == 2  # retried, then stopped at the first file
    assert not result.available and "HTTP 503 after 2 attempts" in result.reason


def corrupt(kind: str, bodies: dict[int, bytes]) -> dict[int, bytes]:
    """Bad files that still carry a matching sha256 in the config (so the content checks are reached)."""
    lines = bodies[64].decode().splitlines()
    if kind == "duplicated objIDs":
        lines[3] = lines[2]
    elif kind == "NaN value":
        lines[4] = lines[4].rsplit(",", 1)[0] + ",nan"
    elif kind == "non-numeric value":
        lines[5] = lines[5].rsplit(",", 1)[0] + ",eight"
    elif kind == "missing column":
        lines = [line.rsplit(",", 1)[0] for line in lines]
    elif kind == "other galaxies":
        objid, rest = lines[1].split(",", 1)
        lines[1] = f"{int(objid) + 1},{rest}"
    return bodies | {64: ("\n".join(lines) + "\n").encode()}


@pytest.mark.parametrize(
    "kind, message",
    [
        ("duplicated objIDs", r"predictions_64-oh_p50.csv: 1 objID\(s\) appear more than once"),
        (
            "NaN value",
            r"predictions_64-oh_p50.csv: column 'prediction' has 1 value\(s\) "
            r"that are not a finite number, first 'nan'",
        ),
        (
            "non-numeric value",
            r"predictions_64-oh_p50.csv: column 'prediction' .* first 'eight' on data row 5",
        ),
        ("missing column", r"predictions_64-oh_p50.csv lacks column\(s\) \['prediction'\]"),
        (
            "other galaxies",
            r"predictions_64-oh_p50.csv and predictions-oh_p50.csv hold different galaxies: 1 objIDs only",
        ),
    ],
)
def test_bad_content_stops_with_the_file_and_problem_named_and_no_output(tmp_path, kind, message):
    bodies = corrupt(kind, published_csvs(30))
    with FileServer(served(bodies)) as server, pytest.raises(ValueError, match=message):
        fetch(tmp_path, server.url, published_config(bodies))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "fault, error, message",
    [
        (
            "checksum",
            ValueError,
            r"predictions_32-oh_p50.csv: sha256 [0-9a-f]{64} does not match the pinned",
        ),
        ("html", ValueError, r"predictions_32-oh_p50.csv is an HTML page .* not the CSV"),
        (
            "short",
            ValueError,
            r"predictions_32-oh_p50.csv: sha256 .* it ends mid-line, so it looks truncated",
        ),
        (
            "truncated",
            web.BrokenTransfer,
            r"predictions_32-oh_p50.csv: body cut off before its announced length",
        ),
        (
            "404",
            requests.HTTPError,
            r"404 Client Error: Not Found for url: .*predictions_32-oh_p50.csv",
        ),
    ],
)
def test_bad_transfers_stop_with_the_file_named_and_leave_nothing(tmp_path, fault, error, message):
    bodies = published_csvs(30)
    entries = published_config(bodies)
    files = served(bodies)
    path = f"/{COMMIT}/{FOLDER}/{PUBLISHED_NAMES[32]}"
    faults = {}
    if fault == "checksum":
        files[path] = files[path].replace(b"8.", b"9.", 1)
    elif fault == "short":
        files[path] = files[path][: len(files[path]) // 2]
    else:
        faults[path] = fault
    cache = tmp_path / "cache"
    with FileServer(files, faults) as server, pytest.raises(error, match=message):
        fetch(tmp_path, server.url, entries, local_dir=cache)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        PUBLISHED_NAMES[r] for r in (128, 64)
    )  # only verified files kept


def test_a_bad_file_put_by_hand_is_refused(tmp_path):
    bodies = published_csvs(30)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / PUBLISHED_NAMES[128]).write_bytes(b"<!DOCTYPE html><html>rate limited</html>")
    with pytest.raises(ValueError, match="predictions-oh_p50.csv is an HTML page"):
        fetch(tmp_path, "http://127.0.0.1:9", published_config(bodies), local_dir=cache)


def reference_of(bodies, available=True):
    if not available:
        return ref.Reference(False, "owner/repo@0123456", "oh_p50", "gri", reason="offline")
    return ref.Reference(
        True,
        "owner/repo@0123456",
        "oh_p50",
        "gri",
        frames={r: expected(b) for r, b in bodies.items()},
    )


def cnn_frames(objids, true, rng, scatter):
    pred = true + rng.normal(0, scatter, true.size)
    test = pd.DataFrame(
        {
            "objID": objids,
            "true": true,
            "pred": pred,
            "pred_notta": pred,
            "pred_fold0": pred,
            "pred_fold0_notta": pred,
        }
    )
    return test, None


def test_summary_rescores_the_published_predictions_and_takes_paper_values_from_them():
    bodies = published_csvs(300, seed=4)
    reference = reference_of(bodies)
    rng = np.random.default_rng(0)
    true = rng.normal(8.9, 0.2, 100)
    cnn = {("oh_p50", "gri", res): cnn_frames(np.arange(100), true, rng, 0.1) for res in (128, 8)}
    baselines = {
        ("rf", "oh_p50"): pd.DataFrame({"objID": np.arange(100), "true": true, "pred": true + 0.1})
    }
    table = summary_table(cnn, baselines, reference)
    published = table[table["method"] == "published"].set_index("resolution")
    assert sorted(published.index, reverse=True) == [128, 64, 32, 16]
    for res, body in bodies.items():
        by_hand = pd.read_csv(io.BytesIO(body))
        d = by_hand["prediction"].to_numpy() - by_hand["oh_p50"].to_numpy()
        assert published.loc[res, "rmse"] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-12)
        assert published.loc[res, "nmad"] == pytest.approx(
            1.4826 * np.median(np.abs(d - np.median(d))), rel=1e-12
        )
        assert published.loc[res, "n"] == 300
    # The published predictions are one model's: they are the paper's number for the single-model rows.
    cnn128 = table[
        (table["method"] == "cnn") & (table["resolution"] == 128) & (table["variant"] == "fold0")
    ].iloc[0]
    assert (cnn128["paper_rmse"], cnn128["paper_nmad"]) == (
        published.loc[128, "rmse"],
        published.loc[128, "nmad"],
    )
    assert (
        cnn128["paper_source"] == "published owner/repo@0123456"
        and "published post-submission predictions of one model" in cnn128["paper_figure"]
    )
    # A random test set is not the published galaxies; test_set: reference is.
    assert cnn128["like_for_like"] == "no: test set: other galaxies"
    same = summary_table(cnn, baselines, reference, survey="sdss", test_set="reference")
    alike = same[same["like_for_like"] == "yes"]
    assert len(alike) and set(alike["resolution"]) == {128}
    assert alike["variant"].str.startswith("fold").all()
    mock = summary_table(cnn, baselines, reference, survey="mock")
    assert set(mock.loc[mock["method"] == "published", "survey"]) == {"sdss"}
    assert set(mock.loc[mock["method"] == "cnn", "survey"]) == {"mock"}
    ensemble128 = table[
        (table["method"] == "cnn") & (table["resolution"] == 128) & (table["variant"] == "ensemble")
    ].iloc[0]
    assert (ensemble128["paper_rmse"], ensemble128["paper_source"]) == (0.0835, "earlier draft")
    cnn8 = table[
        (table["method"] == "cnn") & (table["resolution"] == 8) & (table["variant"] == "fold0")
    ].iloc[0]
    assert np.isnan(cnn8["paper_rmse"]) and cnn8["paper_source"] == ""
    rf = table[table["method"] == "rf"].iloc[0]
    assert (rf["paper_rmse"], rf["paper_source"]) == (0.1296, "notebook")
    # Without the reference the 128 px single model keeps the paper's text value (Fig. 2).
    facts = summary_table(cnn, baselines, None)
    row = facts[
        (facts["method"] == "cnn") & (facts["resolution"] == 128) & (facts["variant"] == "fold0")
    ].iloc[0]
    assert (row["paper_rmse"], row["paper_nmad"], row["paper_source"]) == (0.085, 0.0668, "paper")


def test_summary_says_when_the_reference_is_unavailable():
    from galcnn.summary import summary_markdown

    rng = np.random.default_rng(1)
    true = rng.normal(8.9, 0.2, 50)
    reference = reference_of({}, available=False)
    table = summary_table(
        {("oh_p50", "gri", 32): cnn_frames(np.arange(50), true, rng, 0.1)}, {}, reference
    )
    row = table[table["method"] == "published"]
    assert row["variant"].tolist() == ["unavailable"] and row["n"].tolist() == [0]
    assert "published predictions of owner/repo@0123456 unavailable: offline" in summary_markdown(
        table, None, reference
    )


def test_comparison_on_common_galaxies_and_without_any():
    bodies = published_csvs(200, seed=2)
    reference = reference_of(bodies)
    published = expected(bodies[32])
    rng = np.random.default_rng(3)
    # Our test set: half of the published galaxies and as many of our own.
    ours = pd.concat(
        [
            published.iloc[:100].assign(pred=lambda f: f["true"] + rng.normal(0, 0.1, 100)),
            pd.DataFrame({"objID": np.arange(100), "true": 9.0, "pred": 9.0}),
        ],
        ignore_index=True,
    )
    table = ref.compare({32: ours, 8: ours}, reference).set_index("resolution")
    row = table.loc[32]
    common = ours.iloc[:100].merge(published, on="objID", suffixes=("", "_pub"))
    assert row["n_common"] == 100
    assert row["rmse_ours"] == pytest.approx(rmse(common["pred"], common["true"]))
    assert row["nmad_published"] == pytest.approx(nmad(common["pred_pub"], common["true"]))
    diff = common["pred"] - common["pred_pub"]
    assert row["rms_difference"] == pytest.approx(np.sqrt(np.mean(diff**2)))
    assert row["median_difference"] == pytest.approx(np.median(diff))
    assert row["correlation"] == pytest.approx(
        np.corrcoef(common["pred"], common["pred_pub"])[0, 1]
    )
    assert (
        table.loc[8, "n_common"] == 0 and "no published predictions at 8 px" in table.loc[8, "note"]
    )

    mock = ref.compare({32: ours.iloc[100:]}, reference)
    assert (
        mock["n_common"].tolist() == [0] and "none of our 100 test galaxies" in mock["note"].iloc[0]
    )
    offline = ref.compare({32: ours}, reference_of({}, available=False))
    assert offline["n_common"].tolist() == [0] and "unavailable: offline" in offline["note"].iloc[0]
    nothing = ref.compare({}, reference)
    assert (
        nothing["n_common"].tolist() == [0]
        and "published: 128, 64, 32, 16 px" in nothing["note"].iloc[0]
    )


def test_test_set_reference_is_exactly_the_published_galaxies_in_the_catalogue():
    ids = np.arange(1000, 2000)
    published = np.concatenate(
        [np.arange(1500, 1700), np.arange(5000, 5100)]
    )  # 100 not in our catalogue
    table = make_splits(ids, 0.2, 5, seed=1, test_ids=published)
    assert set(table.loc[table["split"] == "test", "objID"]) == set(range(1500, 1700))
    train = table[table["split"] == "train"]
    assert len(train) == 800 and sorted(train["fold"].unique()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="none of the 1000 galaxies"):
        make_splits(ids, 0.2, 5, seed=1, test_ids=np.arange(5000, 5100))


def test_published_test_ids_refuse_an_unavailable_reference(tmp_path):
    entries = published_config(published_csvs(20))
    _, outputs, status = fetch(tmp_path, "http://127.0.0.1:9", entries, retries=1)
    with pytest.raises(ValueError, match="test_set: reference.*unavailable"):
        ref.published_test_ids(status, outputs[128])


@pytest.mark.e2e
def test_test_set_reference_on_the_sdss_path_is_the_published_galaxies(workflow_copy):
    """A real snakemake run of the SDSS path up to the splits, against a fake SkyServer and a fake file host."""
    import yaml
    from conftest import snakemake
    from servers import FakeSkyServer, fake_catalog
    from test_download_interrupt import sdss_config

    galaxies = fake_catalog(60, seed=5)
    published_ids = np.concatenate(
        [galaxies["objID"].to_numpy()[::3], 1237640000000000000 + np.arange(40)]
    )
    bodies = published_csvs(objids=published_ids)
    with FakeSkyServer(galaxies) as sky, FileServer(served(bodies)) as host:
        config = sdss_config(sky.url) | {"test_set": "reference", "folds": 2}
        config["reference"] = {
            "url": host.url,
            "commit": COMMIT,
            "folder": FOLDER,
            "local_dir": None,
            "files": published_config(bodies),
        }
        (workflow_copy / "sdss_test.yaml").write_text(yaml.safe_dump(config))
        snakemake(
            workflow_copy,
            "results/splits.parquet",
            "--configfile",
            "sdss_test.yaml",
            "--cores",
            "2",
            "--resources",
            "sdss_http=2",
        )
    splits = pd.read_parquet(workflow_copy / "results" / "splits.parquet")
    index = pd.read_parquet(workflow_copy / "results" / "images" / "index.parquet")
    assert (
        set(splits.loc[splits["split"] == "test", "objID"])
        == set(published_ids) & set(index["objID"])
        != set()
    )
    assert sorted(splits.loc[splits["split"] == "train", "fold"].unique()) == [0, 1]

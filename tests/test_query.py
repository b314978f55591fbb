"""The catalogue query through astroquery against a local fake SkyServer, the merge, and CasJobs."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml
from servers import FakeSkyServer, Redirector, fake_catalog

from galcnn import catalog
from galcnn.sdss import casjobs, query

REPO = Path(__file__).resolve().parents[1]
CUTS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["query"]["cuts"]
FAST = dict(data_release=14, retries=3, timeout=5.0, backoff=0.01)


@pytest.fixture(scope="module")
def galaxies() -> pd.DataFrame:
    return fake_catalog(120, seed=3)


# ---- the SQL ------------------------------------------------------------------------------
def test_sql_renders_the_configured_cuts_and_partition():
    sql = query.render_sql(CUTS, part=3, n_parts=16)
    for clause in (
        "(G.petroMag_r > 10 AND G.petroMag_r < 18)",
        "(G.modelMag_u - G.modelMag_r) > 0",
        "(S.zErr > 0 AND S.zErr < 0.01)",
        "(S.z > 0.02)",
        "GSE.oh_p50 != -9999",
        "(S.rChi2 < 2)",
        "(G.ra >= 67.5 AND G.ra < 90)",
        "JOIN GalSpecExtra AS GSE ON GSE.specObjID = S.specObjID",
    ):
        assert clause in sql
    for expr in catalog.SQL_COLUMNS.values():
        assert f"  {expr}" in sql
    assert "INTO" not in sql and "$" not in sql

    changed = copy.deepcopy(CUTS)
    changed["z"] = [0.05, 0.3]
    assert "(S.z > 0.05 AND S.z < 0.3)" in query.render_sql(changed)
    assert "INTO mydb.SDSSspecgalsDR14" in query.render_sql(CUTS, into="mydb.SDSSspecgalsDR14")


@pytest.mark.parametrize(
    "bad, message",
    [
        ("18; DROP TABLE Galaxy", "could not convert string to float"),
        (float("nan"), "petroMag_r has bounds .* finite number"),
        (float("inf"), "petroMag_r has bounds .* finite number"),
        (None, "petroMag_r has bounds .* finite number"),
    ],
)
def test_sql_refuses_bounds_that_are_not_numbers(bad, message):
    cuts = copy.deepcopy(CUTS)
    cuts["petroMag_r"] = [10, bad] if bad is not None else [10, "1e400"]
    with pytest.raises(ValueError, match=message):
        query.render_sql(cuts)


def test_sql_refuses_a_table_name_that_is_not_an_identifier():
    with pytest.raises(ValueError, match="identifier"):
        query.render_sql(CUTS, into="mydb.t; DROP TABLE x")


def test_partitions_tile_the_sky():
    n = 7
    bounds = [query.ra_range(i, n) for i in range(n)]
    assert bounds[0][0] == 0 and bounds[-1][1] == 360
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(n - 1))
    with pytest.raises(ValueError, match=r"partition 7 is outside 0\.\.6"):
        query.ra_range(7, 7)


# ---- through astroquery -------------------------------------------------------------------
def test_partitions_through_astroquery_return_every_galaxy_once_typed(galaxies, tmp_path):
    n = 3
    with FakeSkyServer(galaxies) as server:
        frames = [
            query.query_partition(
                CUTS,
                i,
                n,
                tmp_path / f"part{i:03d}.parquet",
                tmp_path / f"part{i:03d}.sql",
                url=server.url,
                **FAST,
            )
            for i in range(n)
        ]
        requests_seen = server.sql_log()
    assert len(requests_seen) == n
    assert requests_seen[0]["path"] == "/dr14/en/tools/search/x_results.aspx"
    assert (
        requests_seen[0]["params"]["format"] == "csv"
        and requests_seen[0]["params"]["searchtool"] == "SQL"
    )
    merged = pd.concat(frames).sort_values("objID").reset_index(drop=True)
    expected = galaxies.sort_values("objID").reset_index(drop=True)
    assert merged["objID"].dtype == "int64" and merged["bptclass"].dtype == "int64"
    assert list(merged["objID"]) == list(expected["objID"])  # full 19-digit ids, no float rounding
    pd.testing.assert_frame_equal(merged, expected, check_exact=False, rtol=1e-12)
    assert (
        (merged["lgm_tot_p50"] == catalog.SENTINEL).sum()
        == (galaxies["lgm_tot_p50"] == catalog.SENTINEL).sum()
        > 0
    )
    assert (tmp_path / "part001.sql").read_text() == query.render_sql(CUTS, 1, n)


def test_empty_result_is_an_empty_typed_frame(galaxies):
    with FakeSkyServer(galaxies, sql_script=["empty"]) as server:
        frame = query.query_skyserver(query.render_sql(CUTS, 0, 2), url=server.url, **FAST)
    assert len(frame) == 0
    assert list(frame.columns) == list(catalog.CATALOG_COLUMNS)
    assert frame["objID"].dtype == "int64"


def test_skyserver_error_is_a_clear_error_with_the_sql_and_not_retried(galaxies):
    sql = query.render_sql(CUTS, 0, 2)
    with FakeSkyServer(galaxies, sql_script=["error"]) as server:
        with pytest.raises(query.QueryError) as err:
            query.query_skyserver(sql, url=server.url, **FAST)
        assert len(server.sql_log()) == 1
    message = str(err.value)
    assert "Incorrect syntax near 'FORM'" in message
    assert "<p" not in message  # the page's markup is stripped
    assert message.endswith(sql)


def test_slow_and_failing_responses_are_retried(galaxies):
    with FakeSkyServer(galaxies, sql_script=["slow", "500"], slow_seconds=1.0) as server:
        frame = query.query_skyserver(
            query.render_sql(CUTS), url=server.url, **{**FAST, "timeout": 0.3}
        )
        assert [e["served"] for e in server.sql_log()] == ["slow", "500", "csv"]
    assert len(frame) == len(galaxies)


def test_a_server_that_stays_slow_gives_up_after_the_retries(galaxies):
    sql = query.render_sql(CUTS)
    with FakeSkyServer(galaxies, sql_script=["slow"] * 2, slow_seconds=1.0) as server:
        with pytest.raises(query.QueryError, match="failed 2 times") as err:
            query.query_skyserver(sql, url=server.url, **{**FAST, "retries": 2, "timeout": 0.3})
    assert sql in str(err.value)


# ---- merge --------------------------------------------------------------------------------
def test_merge_deduplicates_rechecks_cuts_and_writes_the_sql(tmp_path):
    galaxies = fake_catalog(60, seed=5, duplicates=4)
    galaxies.loc[10, "z"] = 0.01  # a row the server should not have returned
    with FakeSkyServer(galaxies) as server:
        parts = []
        for i in range(2):
            out = tmp_path / f"part{i:03d}.parquet"
            query.query_partition(CUTS, i, 2, out, out.with_suffix(".sql"), url=server.url, **FAST)
            parts.append(out)
    merged = query.merge_partitions(
        parts,
        [p.with_suffix(".sql") for p in parts],
        CUTS,
        tmp_path / "galaxies.parquet",
        tmp_path / "query.sql",
    )
    assert len(merged) == 60 - 1
    assert merged["objID"].is_unique
    first_spectra = (
        galaxies.sort_values("specObjID").drop_duplicates("objID").set_index("objID")["specObjID"]
    )
    assert (merged.set_index("objID")["specObjID"] == first_spectra.loc[merged["objID"]]).all()
    written = pd.read_parquet(tmp_path / "galaxies.parquet")
    pd.testing.assert_frame_equal(written, merged)
    sql_text = (tmp_path / "query.sql").read_text()
    assert "(G.ra >= 0 AND G.ra < 180)" in sql_text and "(G.ra >= 180 AND G.ra < 360)" in sql_text


def test_merge_refuses_an_empty_catalogue_and_writes_nothing(tmp_path):
    empty = fake_catalog(5, seed=6).iloc[:0]
    parts = []
    for i in range(2):
        parts.append(tmp_path / f"part{i:03d}.parquet")
        empty.to_parquet(parts[-1])
        parts[-1].with_suffix(".sql").write_text("SELECT 1\n")
    with pytest.raises(
        ValueError, match=r"no galaxies passing the cuts \(0 rows from 2 partitions\).*sdss.url"
    ):
        query.merge_partitions(
            parts,
            [p.with_suffix(".sql") for p in parts],
            CUTS,
            tmp_path / "galaxies.parquet",
            tmp_path / "query.sql",
        )
    assert not (tmp_path / "galaxies.parquet").exists() and not (tmp_path / "query.sql").exists()


# ---- CasJobs ------------------------------------------------------------------------------
SECRET = "s3cr3t-Token-value-0123456789"


def test_casjobs_job_is_submitted_with_the_token_which_appears_nowhere(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", SECRET)
    sql = query.render_sql(CUTS, into="mydb.SDSSspecgalsDR14")
    with FakeSkyServer(casjobs_token=SECRET) as server, caplog.at_level(logging.DEBUG):
        job = casjobs.submit_job(
            sql,
            url=f"{server.url}/CasJobs/RestApi",
            token_env="TEST_CASJOBS_TOKEN",
            context="DR14",
            poll=0.01,
        )
        submitted = list(server.casjobs_jobs.values())
    assert job["Status"] == 5
    assert submitted == [{"Query": sql, "context": "DR14", "polls": 2}]
    assert SECRET not in caplog.text and SECRET not in repr(job)


def test_casjobs_errors_never_show_the_token(monkeypatch):
    wrong = "wrong-" + SECRET
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", wrong)
    with FakeSkyServer(casjobs_token=SECRET) as server:
        with pytest.raises(casjobs.CasJobsError) as err:
            casjobs.submit_job(
                "SELECT 1",
                url=f"{server.url}/CasJobs/RestApi",
                token_env="TEST_CASJOBS_TOKEN",
                context="DR14",
            )
    message = str(err.value)
    assert "HTTP 401" in message and casjobs.REDACTED in message
    assert wrong not in message and SECRET not in message


def test_casjobs_without_a_token_names_the_variable(monkeypatch):
    monkeypatch.delenv("TEST_CASJOBS_TOKEN", raising=False)
    with pytest.raises(casjobs.CasJobsError, match="TEST_CASJOBS_TOKEN"):
        casjobs.submit_job(
            "SELECT 1", url="http://127.0.0.1:9", token_env="TEST_CASJOBS_TOKEN", context="DR14"
        )


def casjobs_call(url, job_file=None, **kwargs):
    return casjobs.submit_job(
        "SELECT 1 INTO mydb.T",
        url=url,
        token_env="TEST_CASJOBS_TOKEN",
        context="DR14",
        job_file=job_file,
        poll=0.01,
        backoff=0.01,
        **kwargs,
    )


def test_casjobs_never_follows_a_redirect_with_the_token(monkeypatch):
    """requests would follow a 307 with the PUT, its body and X-Auth-Token to the other host."""
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", SECRET)
    with (
        FakeSkyServer(casjobs_token=SECRET) as elsewhere,
        Redirector(elsewhere.url, 307) as service,
    ):
        with pytest.raises(
            casjobs.CasJobsError, match=r"HTTP 307 redirect to 127\.0\.0\.1:\d+ refused"
        ) as err:
            casjobs_call(f"{service.url}/CasJobs/RestApi")
        assert [r["method"] for r in service.requests] == ["PUT"]
        assert (
            elsewhere.log == [] and elsewhere.casjobs_jobs == {}
        )  # never saw the token, nor anything
    assert SECRET not in str(err.value)


def test_casjobs_needs_https(monkeypatch):
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", SECRET)
    with pytest.raises(casjobs.CasJobsError, match="not an https:// URL"):
        casjobs_call("http://skyserver.sdss.org/CasJobs/RestApi")


def test_a_transient_poll_failure_is_retried_within_the_run(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", SECRET)
    job_file = tmp_path / "casjobs.json.job"
    with FakeSkyServer(casjobs_token=SECRET) as server:
        server.casjobs_poll_faults = ["503", "502"]
        job = casjobs_call(f"{server.url}/CasJobs/RestApi", job_file, retries=3)
    assert job["Status"] == casjobs.FINISHED and len(server.casjobs_jobs) == 1
    assert not job_file.exists()


def test_a_rerun_after_failed_polls_resumes_the_same_job(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", SECRET)
    job_file = tmp_path / "casjobs.json.job"
    url_path = "/CasJobs/RestApi"
    with FakeSkyServer(casjobs_token=SECRET) as server:
        server.casjobs_poll_faults = ["503"] * 3
        with pytest.raises(casjobs.CasJobsError, match="HTTP 503.*a rerun resumes this job"):
            casjobs_call(server.url + url_path, job_file, retries=3)
        assert job_file.exists() and SECRET not in job_file.read_text()
        job = casjobs_call(server.url + url_path, job_file, retries=3)
        puts = [e for e in server.log if e["params"].get("method") == "PUT"]
    assert len(puts) == 1 and list(server.casjobs_jobs) == [job["JobID"]]
    assert job["Status"] == casjobs.FINISHED and not job_file.exists()


def test_a_job_outlasting_the_wait_is_cancelled(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_CASJOBS_TOKEN", SECRET)
    job_file = tmp_path / "casjobs.json.job"
    with FakeSkyServer(casjobs_token=SECRET, casjobs_polls_to_finish=10**6) as server:
        with pytest.raises(
            casjobs.CasJobsError,
            match=r"still running after 0 s \(status 1\); cancelled \(HTTP 200\)",
        ):
            casjobs_call(f"{server.url}/CasJobs/RestApi", job_file, max_wait=0.05)
        (job,) = server.casjobs_jobs.values()
    assert job.get("cancelled") is True
    assert not job_file.exists()  # a rerun submits anew

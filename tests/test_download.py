"""The ImgCutout downloader against a local fake SkyServer with injected faults."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from servers import FakeSkyServer, fake_catalog, position_key

from galcnn import cutouts
from galcnn.sdss import download

SIZE = 64


def service(server: FakeSkyServer) -> download.CutoutService:
    return download.CutoutService(url=server.url, data_release=14, size=SIZE, scale=0.296, opt="")


def run_shard(
    server,
    galaxies,
    root,
    *,
    rate_limit=200.0,
    retries=4,
    timeout=0.5,
    concurrency=8,
    shard=0,
    n_shards=1,
    backoff=0.02,
    **limits,
):
    return download.download_shard(
        galaxies,
        root,
        shard,
        n_shards,
        service(server),
        concurrency=concurrency,
        rate_limit=rate_limit,
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        **limits,
    )


def test_every_recoverable_cutout_arrives_intact_and_the_rest_are_listed(tmp_path):
    galaxies = fake_catalog(80, seed=11)
    key = [position_key(r, d) for r, d in zip(galaxies["ra"], galaxies["dec"])]
    permanent = {key[0]: "html", key[1]: "500", key[2]: "blank", key[3]: "404", key[4]: "truncated"}
    faults = {
        "429": 0.1,
        "500": 0.1,
        "hang": 0.04,
        "truncated": 0.1,
        "html": 0.1,
        "wrongsize": 0.05,
    }
    with FakeSkyServer(
        faults=faults, max_faults=3, permanent=permanent, hang_seconds=1.0
    ) as server:
        manifest = run_shard(server, galaxies, tmp_path)
        served = [e["served"] for e in server.cutout_log()]
        request = server.cutout_log()[0]
        images = {k: server.image(k, SIZE) for k in key[5:]}

    # every kind of fault was exercised, and retried to success
    assert set(faults) <= set(served)
    assert request["path"] == "/dr14/SkyServerWS/ImgCutout/getjpeg"
    assert {k: request["params"][k] for k in ("width", "height", "scale", "opt")} == {
        "width": str(SIZE),
        "height": str(SIZE),
        "scale": "0.296",
        "opt": "",
    }

    m = manifest.set_index("objID")
    assert list(manifest["objID"]) == list(galaxies["objID"])
    ids = list(galaxies["objID"])
    assert (m.loc[ids[5:], "status"] == cutouts.OK).all()
    for objid, k in zip(ids[5:], key[5:]):
        assert cutouts.cutout_path(tmp_path, 0, objid).read_bytes() == images[k]
    assert m.at[ids[0], "status"] == cutouts.FAILED and "HTML page" in m.at[ids[0], "reason"]
    assert (
        m.at[ids[1], "status"] == cutouts.FAILED
        and m.at[ids[1], "reason"] == "HTTP 500 after 4 attempts"
    )
    assert (
        m.at[ids[2], "status"] == cutouts.BLANK
        and cutouts.cutout_path(tmp_path, 0, ids[2]).exists()
    )
    assert m.at[ids[3], "status"] == cutouts.FAILED and m.at[ids[3], "reason"] == "HTTP 404"
    assert m.at[ids[4], "status"] == cutouts.FAILED and "truncated" in m.at[ids[4], "reason"]
    for objid in (ids[0], ids[1], ids[3], ids[4]):
        assert m.at[objid, "path"] == "" and not cutouts.cutout_path(tmp_path, 0, objid).exists()
    assert served.count("404") == 1  # a client error is not retried
    assert not list(tmp_path.rglob(".*.jpg"))
    written = pd.read_parquet(cutouts.manifest_path(tmp_path, 0))
    assert list(written.columns) == list(cutouts.MANIFEST_COLUMNS)


def test_rate_cap_holds_across_workers_and_retries(tmp_path):
    galaxies = fake_catalog(50, seed=12)
    rate = 20.0
    with FakeSkyServer(faults={"500": 0.2}, max_faults=1) as server:
        t0 = time.monotonic()
        manifest = run_shard(server, galaxies, tmp_path, rate_limit=rate, concurrency=8)
        elapsed = time.monotonic() - t0
        times = sorted(e["t"] for e in server.cutout_log())
    assert (manifest["status"] == cutouts.OK).all()
    n = len(times)
    assert n > len(galaxies)  # the retries count against the cap too
    measured = (n - 1) / (times[-1] - times[0])
    assert rate * 0.7 < measured <= rate * 1.05, measured
    # in any one-second window: at most rate requests, plus the bucket's single token of burst
    worst = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    assert worst <= rate + 1, worst
    assert elapsed >= (n - 1) / rate * 0.95


@pytest.mark.parametrize("kind", ["429", "503", "429bare"])
def test_a_throttled_position_pauses_every_worker(tmp_path, kind):
    """One position is throttled once while the other workers have work: none of them asks
    again until the pause is over (Retry-After 0.6 s; without it, the back-off, 0.5–1.5 s)."""
    galaxies = fake_catalog(80, seed=13)
    first = position_key(galaxies.at[0, "ra"], galaxies.at[0, "dec"])
    with FakeSkyServer(script={first: [kind]}, retry_after="0.6", latency=0.02) as server:
        manifest = run_shard(
            server, galaxies, tmp_path, rate_limit=1000.0, concurrency=4, backoff=1.0
        )
        log = server.cutout_log()
    assert (manifest["status"] == cutouts.OK).all()
    throttled = next(e["t"] for e in log if e["served"] == kind)
    # Without the pause the three other workers would send ~150 requests/s meanwhile.
    in_window = [e for e in log if throttled + 0.1 < e["t"] < throttled + 0.45]
    assert not in_window, f"{len(in_window)} requests during the pause"
    assert sum(e["t"] > throttled + 0.45 for e in log) > 10  # the others still had work after it


def test_an_outage_fails_the_shard_without_a_manifest_and_the_rerun_completes(tmp_path):
    galaxies = fake_catalog(40, seed=16)
    keys = [position_key(r, d) for r, d in zip(galaxies["ra"], galaxies["dec"])]
    manifest_path = cutouts.manifest_path(tmp_path, 0)
    with FakeSkyServer(permanent={k: "503" for k in keys[::2]}, retry_after="0") as server:
        with pytest.raises(
            download.ServiceOutage,
            match=r"20 of 40 failed.*HTTP 503 after 4 attempts.*looks unavailable",
        ) as err:
            run_shard(server, galaxies, tmp_path)
        assert "no manifest" in str(err.value)
        assert not manifest_path.exists()
        kept = {p.stem for p in cutouts.shard_dir(tmp_path, 0).glob("*.jpg")}
        assert kept == {
            str(o) for o in galaxies["objID"][1::2]
        }  # every valid file is kept for the rerun

        server.permanent.clear()  # the service is back
        manifest = run_shard(server, galaxies, tmp_path)
        served = server.served_ok()
    assert (manifest["status"] == cutouts.OK).all() and manifest_path.exists()
    assert all(served[k] == 1 for k in keys)  # nothing fetched twice


def test_a_long_run_of_failures_stops_the_shard_early(tmp_path):
    galaxies = fake_catalog(60, seed=17)
    with FakeSkyServer(retry_after="0") as server:
        server.outage = True
        with pytest.raises(download.ServiceOutage, match=r"6 downloads in a row failed"):
            run_shard(
                server, galaxies, tmp_path, concurrency=2, retries=3, max_consecutive_failures=6
            )
        requests_sent = len(server.cutout_log())
    assert not cutouts.manifest_path(tmp_path, 0).exists()
    # stopped after the run of failures, not after trying all 60 cutouts 3 times each
    assert requests_sent <= (6 + 2) * 3


def test_a_few_failures_are_listed_and_the_shard_succeeds(tmp_path):
    galaxies = fake_catalog(40, seed=18)
    keys = [position_key(r, d) for r, d in zip(galaxies["ra"], galaxies["dec"])]
    with FakeSkyServer(permanent={keys[0]: "503", keys[1]: "500"}, retry_after="0") as server:
        manifest = run_shard(server, galaxies, tmp_path, max_failed_fraction=0.05)
    assert (manifest["status"] == cutouts.FAILED).sum() == 2  # 2 of 40, within 5 %
    with FakeSkyServer(permanent={keys[0]: "503", keys[1]: "500"}, retry_after="0") as server:
        with pytest.raises(download.ServiceOutage, match="2 of 40 failed"):
            run_shard(server, galaxies, tmp_path / "strict", max_failed_fraction=0.02)


def test_resume_skips_valid_files_and_refetches_damaged_ones(tmp_path):
    galaxies = fake_catalog(30, seed=14)
    with FakeSkyServer() as server:
        run_shard(server, galaxies, tmp_path)
        assert len(server.cutout_log()) == 30
        run_shard(server, galaxies, tmp_path)
        assert len(server.cutout_log()) == 30  # nothing fetched twice

        ids = list(galaxies["objID"])
        damaged = cutouts.cutout_path(tmp_path, 0, ids[3])
        damaged.write_bytes(damaged.read_bytes()[:200])
        cutouts.cutout_path(tmp_path, 0, ids[7]).unlink()
        stale = cutouts.shard_dir(tmp_path, 0) / f".{ids[9]}.jpg.abc123.jpg"
        stale.write_bytes(b"\xff\xd8partial")
        manifest = run_shard(server, galaxies, tmp_path)
        again = server.cutout_log()[30:]
    assert sorted(e["key"] for e in again) == sorted(
        position_key(*galaxies.loc[i, ["ra", "dec"]]) for i in (3, 7)
    )
    assert (manifest["status"] == cutouts.OK).all()
    assert not stale.exists()


def test_only_the_shard_members_are_downloaded(tmp_path):
    galaxies = fake_catalog(40, seed=15)
    with FakeSkyServer() as server:
        manifest = run_shard(server, galaxies, tmp_path, shard=1, n_shards=3)
        fetched = {e["key"] for e in server.cutout_log()}
    members = cutouts.shard_members(galaxies, 1, 3)
    assert set(manifest["objID"]) == set(members["objID"])
    assert fetched == {position_key(r, d) for r, d in zip(members["ra"], members["dec"])}
    assert all(p.startswith(str(cutouts.shard_dir(tmp_path, 1))) for p in manifest["path"])


def test_token_bucket_limits_threads_and_stops_on_request():
    bucket = download.TokenBucket(rate=50.0)
    stamps, lock = [], threading.Lock()

    def grab():
        for _ in range(10):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert (stamps[-1] - stamps[0]) >= 39 / 50.0 * 0.95

    bucket.pause(5.0)
    stop = threading.Event()
    stop.set()
    assert bucket.acquire(stop) is False
    with pytest.raises(ValueError, match="rate limit"):
        download.TokenBucket(0)


def test_each_galaxy_is_requested_at_its_own_scale(tmp_path):
    """The positions table's ``scale`` column (cutouts.framing: petrosian) is ImgCutout's ``scale``."""
    galaxies = fake_catalog(6, seed=3)
    galaxies["scale"] = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]
    with FakeSkyServer() as server:
        manifest = run_shard(server, galaxies, tmp_path)
        asked = {
            (float(e["params"]["ra"]), float(e["params"]["dec"])): float(e["params"]["scale"])
            for e in server.cutout_log()
        }
    assert (manifest["status"] == cutouts.OK).all()
    assert asked == {
        (ra, dec): at for ra, dec, at in zip(galaxies["ra"], galaxies["dec"], galaxies["scale"])
    }

"""The single-file HTTP client: Retry-After, back-off, and atomic, checked writes."""

import time

import pytest
import requests
from servers import FileServer, Redirector

from galcnn.sdss import web


def test_retry_after_header_forms():
    assert web.retry_after("3") == 3.0
    assert web.retry_after("86400") == web.MAX_RETRY_AFTER
    assert web.retry_after("not a date") is None
    assert web.retry_after(None) is None
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= web.retry_after(http_date) <= 31


def test_download_file_retries_then_writes_only_a_checked_body(tmp_path):
    dest = tmp_path / "data" / "file.csv"
    with FileServer({"/file.csv": b"a,b\n1,2\n"}, faults={"/file.csv": "503"}) as server:
        with pytest.raises(web.Unreachable, match="HTTP 503 after 3 attempts"):
            web.download_file(server.url + "/file.csv", dest, retries=3, backoff=0.01)
        assert len(server.requests) == 3
        server.faults.clear()

        def reject(path):
            raise ValueError(f"rejected {path.read_bytes()!r}")

        with pytest.raises(ValueError, match="rejected"):
            web.download_file(server.url + "/file.csv", dest, check=reject)
        assert not dest.exists() and not list(dest.parent.iterdir())  # nothing half-written
        assert web.download_file(server.url + "/file.csv", dest) == dest
    assert dest.read_bytes() == b"a,b\n1,2\n"


def test_a_body_over_the_cap_is_refused_at_once_and_nothing_is_written(tmp_path):
    dest = tmp_path / "data" / "big.bin"
    body = bytes(200_000)
    with FileServer({"/big.bin": body}, faults={"/big.bin": [None, "unannounced"]}) as server:
        # announced by Content-Length, and counted while streaming when it is not announced
        for _ in range(2):
            with pytest.raises(web.TooLarge, match="100000 bytes accepted"):
                web.download_file(
                    server.url + "/big.bin", dest, retries=3, backoff=0.01, max_bytes=100_000
                )
        assert len(server.requests) == 2  # not retried: the next answer would be as large
        assert not dest.exists() and not list(dest.parent.iterdir())
        assert web.download_file(server.url + "/big.bin", dest, max_bytes=200_000) == dest
    assert dest.read_bytes() == body


def test_a_trickling_body_meets_the_deadline(tmp_path):
    """Each read arrives well within the timeout, the whole body (5 s) does not."""
    with FileServer({"/slow.csv": b"x" * 1000}, faults={"/slow.csv": "trickle"}) as server:
        t0 = time.monotonic()
        with pytest.raises(web.Unreachable, match="DeadlineExceeded"):
            web.download_file(
                server.url + "/slow.csv",
                tmp_path / "slow.csv",
                retries=1,
                timeout=1.0,
                deadline=0.5,
            )
        with requests.Session() as session, pytest.raises(web.DeadlineExceeded):
            web.request(
                session,
                "GET",
                server.url + "/slow.csv",
                timeout=1.0,
                deadline=0.5,
                max_bytes=10_000,
            )
        elapsed = time.monotonic() - t0
    assert elapsed < 3.0
    assert not (tmp_path / "slow.csv").exists()


def test_a_request_that_may_not_follow_redirects_never_reaches_the_target():
    with FileServer({"/file.csv": b"a\n"}) as target, Redirector(target.url) as origin:
        with requests.Session() as session:
            with pytest.raises(
                web.Redirected, match=r"HTTP 307 redirect to 127\.0\.0\.1:\d+ refused"
            ):
                web.request(
                    session,
                    "GET",
                    origin.url + "/file.csv",
                    timeout=5,
                    max_bytes=100,
                    follow_redirects=False,
                    headers={"X-Auth-Token": "secret"},
                )
            assert target.requests == []
            reply = web.request(session, "GET", origin.url + "/file.csv", timeout=5, max_bytes=100)
    assert (reply.status, reply.body) == (200, b"a\n") and target.requests == ["/file.csv"]


@pytest.mark.parametrize(
    "status, headers, pauses",
    [(429, {}, True), (503, {"Retry-After": "0.3"}, True), (500, {}, False)],
)
def test_retry_wait_pauses_the_bucket_on_throttling_only(status, headers, pauses):
    bucket = web.TokenBucket(rate=1000.0)
    wait = web.retry_wait(1, 0.4, 10.0, web.Reply(status, headers, b""), bucket)
    assert 0.2 <= wait <= 0.6
    t0 = time.monotonic()
    bucket.acquire()
    blocked = time.monotonic() - t0
    assert (blocked >= wait * 0.9) if pauses else blocked < 0.05


def test_retrying_waits_at_least_retry_after_then_raises_the_final_error(monkeypatch, caplog):
    waits = []
    monkeypatch.setattr(web.time, "sleep", waits.append)
    busy = web.Reply(503, {"Retry-After": "7"}, b"")
    tries = []

    def attempt(n):
        tries.append(n)
        raise web.Retry(f"HTTP 503 (try {n})", busy if n == 1 else None)

    with caplog.at_level("WARNING", logger="galcnn.sdss.web"):
        with pytest.raises(LookupError, match=r"gave up: HTTP 503 \(try 3\)"):
            web.retrying(
                attempt,
                retries=3,
                backoff=0.01,
                max_backoff=1.0,
                what="the service",
                final=lambda last: LookupError(f"gave up: {last.reason}"),
            )
    assert tries == [1, 2, 3]
    assert len(waits) == 2 and waits[0] == 7.0 and waits[1] < 0.1  # no sleep after the last try
    assert "the service: attempt 1/3 failed (HTTP 503 (try 1)); retrying in 7.0 s" in caplog.text


def test_retrying_returns_the_first_success_and_lets_other_errors_through(monkeypatch):
    monkeypatch.setattr(web.time, "sleep", lambda s: None)

    def flaky(n):
        if n < 2:
            raise web.Retry("timeout")
        return f"answer {n}"

    kwargs = dict(retries=4, backoff=0.01, max_backoff=1.0, what="x", final=RuntimeError)
    assert web.retrying(flaky, **kwargs) == "answer 2"

    def refused(n):
        raise PermissionError("HTTP 403: not retried")

    with pytest.raises(PermissionError, match="403"):
        web.retrying(refused, **kwargs)


def test_retrying_stops_waiting_when_the_job_is_stopped():
    import threading

    stop = threading.Event()

    def attempt(n):
        stop.set()  # e.g. another worker saw the server down
        raise web.Retry("HTTP 500")

    started = time.monotonic()
    with pytest.raises(web.Interrupted, match="stopped after attempt 1"):
        web.retrying(
            attempt,
            retries=3,
            backoff=30.0,
            max_backoff=60.0,
            what="x",
            final=RuntimeError,
            stop=stop,
        )
    assert time.monotonic() - started < 5

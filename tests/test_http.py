"""The single-file HTTP client: Retry-After, back-off, and atomic, checked writes."""

import time

import pytest

from galcnn import http
from servers import FileServer


def test_retry_after_header_forms():
    assert http.retry_after("3") == 3.0
    assert http.retry_after("86400") == http.MAX_RETRY_AFTER
    assert http.retry_after("not a date") is None
    assert http.retry_after(None) is None
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= http.retry_after(http_date) <= 31


def test_download_file_retries_then_writes_only_a_checked_body(tmp_path):
    dest = tmp_path / "data" / "file.csv"
    with FileServer({"/file.csv": b"a,b\n1,2\n"}, faults={"/file.csv": "503"}) as server:
        with pytest.raises(http.Unreachable, match="HTTP 503 after 3 attempts"):
            http.download_file(server.url + "/file.csv", dest, retries=3, backoff=0.01)
        assert len(server.requests) == 3
        server.faults.clear()

        def reject(path):
            raise ValueError(f"rejected {path.read_bytes()!r}")

        with pytest.raises(ValueError, match="rejected"):
            http.download_file(server.url + "/file.csv", dest, check=reject)
        assert not dest.exists() and not list(dest.parent.iterdir())  # nothing half-written
        assert http.download_file(server.url + "/file.csv", dest) == dest
    assert dest.read_bytes() == b"a,b\n1,2\n"

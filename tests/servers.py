"""A fake SkyServer on 127.0.0.1 for tests and benchmarks: SQL search, ImgCutout and CasJobs.

Endpoints, as the real services are called:

* ``GET /dr{N}/en/tools/search/x_results.aspx?cmd=&format=csv&searchtool=SQL`` (astroquery's
  ``SDSS.query_sql``): answers with ``#Table1`` and a CSV of the rows of ``catalog`` whose RA
  lies in the query's ``G.ra >= lo AND G.ra < hi`` range; ``sql_script`` queues other
  answers (``empty``, ``error``, ``slow``, ``500``).
* ``GET /dr{N}/SkyServerWS/ImgCutout/getjpeg?ra=&dec=&scale=&width=&height=&opt=``: a JPEG,
  or an injected fault: ``429`` and ``503`` (with Retry-After), ``429bare`` (without),
  ``500``, ``hang`` (longer than the client's timeout), ``truncated``, ``html``,
  ``wrongsize``, ``blank``. Random faults hit at most ``max_faults`` requests per position,
  so with enough retries every cutout is recoverable; ``permanent`` faults (by position)
  never are; ``script`` gives a position its faults request by request; ``outage`` answers
  503 to every cutout request while it is set.
* ``PUT /CasJobs/RestApi/contexts/{ctx}/jobs``, ``GET`` and ``DELETE /CasJobs/RestApi/jobs/{id}``;
  ``casjobs_poll_faults`` answers the next polls with these statuses, and a job finishes
  on its ``casjobs_polls_to_finish + 1``-th successful poll.

Every request is logged (monotonic time, path, parameters, what was served) so tests
can measure the request rate and check that nothing is fetched twice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
from PIL import Image

from galcnn import catalog as gcat

FAULT_KINDS = ("429", "429bare", "503", "500", "hang", "truncated", "html", "wrongsize")
SQL_ERROR_PAGE = """<html><head><title>SkyServer error</title></head><body>
<h1>SQL returned the following error:</h1>
<p class="error_message">Incorrect syntax near 'FORM'.</p>
<p>Your query: {cmd}</p></body></html>"""
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><body><h1>Server Error in '/' Application.</h1></body></html>"
)


def fake_catalog(n: int, seed: int = 0, duplicates: int = 0) -> pd.DataFrame:
    """``n`` galaxies with every catalogue column, all passing the paper's cuts.

    ``duplicates`` extra rows repeat a galaxy with a second, larger specObjID
    (a galaxy observed twice), as the real join returns.
    """
    rng = np.random.default_rng(seed)
    r = rng.uniform(14.0, 17.5, n)
    frame = pd.DataFrame(
        {
            "objID": 1237648720693755918 + np.arange(n, dtype=np.int64) * 7919,
            "specObjID": 299489677444933632 + np.arange(n, dtype=np.int64) * 8192,
            "ra": rng.uniform(0.0, 360.0, n),
            "dec": rng.uniform(-10.0, 60.0, n),
            "z": rng.uniform(0.03, 0.25, n),
            "zErr": rng.uniform(1e-5, 5e-4, n),
            "velDisp": rng.uniform(30, 300, n),
            "velDispErr": rng.uniform(5, 30, n),
        }
    )
    offsets = {"u": 1.8, "g": 0.7, "r": 0.0, "i": -0.35, "z": -0.6}
    for band in gcat.BANDS:
        frame[f"modelMag_{band}"] = r + offsets[band] + rng.normal(0, 0.05, n)
        frame[f"modelMagErr_{band}"] = rng.uniform(0.005, 0.05, n)
    frame["petroMag_r"] = r + 0.1
    frame["petroR50_r"] = rng.uniform(1, 5, n)
    frame["petroR90_r"] = frame["petroR50_r"] * 2.5
    for col in gcat.CATALOG_COLUMNS:
        if col.endswith("_flux"):
            frame[col] = rng.uniform(10, 500, n)
        elif col.endswith("_flux_err"):
            frame[col] = rng.uniform(1, 10, n)
    frame["d4000"] = rng.uniform(1.0, 2.0, n)
    frame["d4000_err"] = rng.uniform(0.01, 0.05, n)
    frame["bptclass"] = rng.choice([1, 2, 3, 4, -1], n)
    frame["oh_p50"] = rng.normal(8.9, 0.15, n)
    for col, shift in (("oh_p2p5", -0.2), ("oh_p16", -0.1), ("oh_p84", 0.1), ("oh_p97p5", 0.2)):
        frame[col] = frame["oh_p50"] + shift
    frame["lgm_tot_p50"] = rng.normal(10.2, 0.5, n)
    frame["sfr_tot_p50"] = rng.normal(0.0, 0.6, n)
    # MPA-JHU leaves some masses unmeasured: the sentinel must survive the query.
    frame.loc[frame.index[::17], "lgm_tot_p50"] = gcat.SENTINEL
    frame["rChi2"] = rng.uniform(0.7, 1.6, n)
    if duplicates:
        extra = frame.iloc[:duplicates].copy()
        extra["specObjID"] += 4096
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame.loc[:, list(gcat.CATALOG_COLUMNS)]


def jpeg_bytes(size: int = 128, seed: int = 0, blank: bool = False) -> bytes:
    """A colour galaxy-like JPEG (or a black, off-footprint one)."""
    if blank:
        pixels = np.zeros((size, size, 3), np.uint8)
    else:
        rng = np.random.default_rng(seed)
        y, x = np.mgrid[:size, :size] - size / 2
        blob = 180 * np.exp(-(x**2 + y**2) / (2 * (size / 10) ** 2))
        pixels = np.clip(
            30 + blob[..., None] * [1.0, 0.8, 0.6] + rng.normal(0, 6, (size, size, 3)), 0, 255
        )
        pixels = pixels.astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def position_key(ra, dec) -> tuple[float, float]:
    return round(float(ra), 6), round(float(dec), 6)


class FakeSkyServer:
    """The fake services, started on a free port; use as a context manager.

    Settings are plain attributes and may be changed while it runs.
    """

    def __init__(
        self,
        catalog: pd.DataFrame | None = None,
        *,
        latency: float = 0.0,
        faults: dict[str, float] | None = None,
        max_faults: int = 2,
        permanent: dict[tuple[float, float], str] | None = None,
        retry_after: str = "0.2",
        hang_seconds: float = 1.5,
        sql_script: list[str] | None = None,
        slow_seconds: float = 2.0,
        casjobs_token: str | None = None,
        casjobs_polls_to_finish: int = 1,
        script: dict[tuple[float, float], list[str]] | None = None,
        seed: int = 0,
    ):
        self.catalog = catalog
        self.latency = latency
        self.faults = dict(faults or {})
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self.max_faults = max_faults
        self.permanent = dict(permanent or {})
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.sql_script = list(sql_script or [])
        self.slow_seconds = slow_seconds
        self.casjobs_token = casjobs_token
        self.casjobs_jobs: dict[int, dict] = {}
        self.casjobs_polls_to_finish = casjobs_polls_to_finish
        self.casjobs_poll_faults: list[str] = []
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.outage = False
        self.seed = seed
        self.log: list[dict] = []
        self._counts: dict[tuple[float, float], int] = {}
        self._lock = threading.Lock()
        self._images: dict[tuple[float, float], bytes] = {}
        self._httpd: ThreadingHTTPServer | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeSkyServer:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeSkyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---- what tests read ---------------------------------------------------------------
    def cutout_log(self) -> list[dict]:
        with self._lock:
            return [e for e in self.log if e["endpoint"] == "getjpeg"]

    def sql_log(self) -> list[dict]:
        with self._lock:
            return [e for e in self.log if e["endpoint"] == "sql"]

    def served_ok(self) -> dict[tuple[float, float], int]:
        """Position -> how many times a valid image (ok or blank) was sent for it."""
        counts: dict[tuple[float, float], int] = {}
        for e in self.cutout_log():
            if e["served"] in ("ok", "blank"):
                counts[e["key"]] = counts.get(e["key"], 0) + 1
        return counts

    # ---- behaviour ---------------------------------------------------------------------
    def _record(self, **entry) -> None:
        with self._lock:
            self.log.append({"t": time.monotonic(), **entry})

    def cutout_kind(self, key) -> str:
        """What to serve for this request of position ``key``."""
        with self._lock:
            n = self._counts.get(key, 0)
            self._counts[key] = n + 1
        if self.outage:
            return "503"
        if key in self.permanent:
            return self.permanent[key]
        with self._lock:
            if self.script.get(key):
                return self.script[key].pop(0)
        if n < self.max_faults and self.faults:
            u = random.Random(f"{self.seed}:{key}:{n}").random()
            for kind, rate in self.faults.items():
                if u < rate:
                    return kind
                u -= rate
        return "ok"

    def image(self, key, size: int) -> bytes:
        with self._lock:
            if (key, size) not in self._images:
                self._images[(key, size)] = jpeg_bytes(size, seed=hash(key) & 0xFFFF)
            return self._images[(key, size)]

    def next_sql_kind(self) -> str:
        with self._lock:
            return self.sql_script.pop(0) if self.sql_script else "csv"

    def sql_answer(self, cmd: str, kind: str) -> tuple[int, str]:
        if kind == "slow":
            time.sleep(self.slow_seconds)
            kind = "csv"
        if kind == "error":
            return 200, SQL_ERROR_PAGE.format(cmd=cmd)
        if kind == "500":
            return 500, "<html><body>Internal Server Error</body></html>"
        columns = list(gcat.CATALOG_COLUMNS)
        frame = self.catalog if self.catalog is not None else pd.DataFrame(columns=columns)
        if kind == "empty":
            frame = frame.iloc[:0]
        match = re.search(r"G\.ra >= ([-0-9.eE+]+) AND G\.ra < ([-0-9.eE+]+)", cmd)
        if match:
            lo, hi = float(match.group(1)), float(match.group(2))
            frame = frame[(frame["ra"] >= lo) & (frame["ra"] < hi)]
        return 200, "#Table1\n" + frame.to_csv(index=False, columns=columns, lineterminator="\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients that time out and hang up (the point of the "hang" fault) are expected.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the
    # client's delayed ACK would add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    fake: FakeSkyServer

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if re.fullmatch(r"/dr\d+/en/tools/search/x_results\.aspx", url.path):
            return self._sql(url.path, q)
        if re.fullmatch(r"/dr\d+/SkyServerWS/ImgCutout/getjpeg", url.path):
            return self._cutout(url.path, q)
        match = re.fullmatch(r"/CasJobs/RestApi/jobs/(\d+)", url.path)
        if match:
            return self._casjobs_status(int(match.group(1)))
        self._send(404, b"not found", "text/plain")

    def do_DELETE(self):
        match = re.fullmatch(r"/CasJobs/RestApi/jobs/(\d+)", urlsplit(self.path).path)
        fake = self.fake
        fake._record(
            endpoint="casjobs", path=self.path, params={"method": "DELETE"}, served="", key=None
        )
        if (
            not match
            or self.headers.get("X-Auth-Token") != fake.casjobs_token
            or int(match.group(1)) not in fake.casjobs_jobs
        ):
            return self._send(404, b"no such job", "text/plain")
        fake.casjobs_jobs[int(match.group(1))]["cancelled"] = True
        self._send(200, b"", "text/plain")

    def do_PUT(self):
        match = re.fullmatch(r"/CasJobs/RestApi/contexts/(\w+)/jobs", urlsplit(self.path).path)
        if not match:
            return self._send(404, b"not found", "text/plain")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        fake = self.fake
        authorised = (
            fake.casjobs_token is not None
            and self.headers.get("X-Auth-Token") == fake.casjobs_token
        )
        fake._record(
            endpoint="casjobs",
            path=self.path,
            params={"method": "PUT", "context": match.group(1)},
            served=str(authorised),
            key=None,
        )
        if not authorised:
            # Echo the token back, as careless services do, so tests can check it is redacted.
            echoed = f"Unauthorized: token {self.headers.get('X-Auth-Token')!r} is not valid"
            return self._send(401, echoed.encode(), "text/plain")
        with fake._lock:
            job_id = 1000 + len(fake.casjobs_jobs)
            fake.casjobs_jobs[job_id] = {
                "Query": body.get("Query", ""),
                "context": match.group(1),
                "polls": 0,
            }
        self._send(200, str(job_id).encode(), "text/plain")

    def _casjobs_status(self, job_id: int):
        fake = self.fake
        with fake._lock:
            fault = fake.casjobs_poll_faults.pop(0) if fake.casjobs_poll_faults else None
        fake._record(
            endpoint="casjobs",
            path=self.path,
            params={"method": "GET"},
            served=fault or "",
            key=None,
        )
        if fault:
            return self._send(int(fault), HTML_ERROR_PAGE, "text/html", {"Retry-After": "0"})
        if (
            self.headers.get("X-Auth-Token") != fake.casjobs_token
            or job_id not in fake.casjobs_jobs
        ):
            return self._send(404, b"no such job", "text/plain")
        job = fake.casjobs_jobs[job_id]
        job["polls"] += 1
        status = 5 if job["polls"] > fake.casjobs_polls_to_finish else 1
        self._send(
            200,
            json.dumps({"JobID": job_id, "Status": status, "Message": "Query complete"}).encode(),
            "application/json",
        )

    def _sql(self, path: str, q: dict):
        fake = self.fake
        kind = fake.next_sql_kind()
        fake._record(endpoint="sql", path=path, params=q, served=kind, key=None)
        status, text = fake.sql_answer(q.get("cmd", ""), kind)
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _cutout(self, path: str, q: dict):
        fake = self.fake
        try:
            key = position_key(q["ra"], q["dec"])
            size = int(q["width"])
        except (KeyError, ValueError):
            return self._send(400, b"bad parameters", "text/plain")
        kind = fake.cutout_kind(key)
        fake._record(endpoint="getjpeg", path=path, params=q, served=kind, key=key)
        if fake.latency:
            time.sleep(fake.latency)
        if kind == "hang":
            time.sleep(fake.hang_seconds)
            self.close_connection = True
            return
        if kind in ("429", "503"):
            return self._send(
                int(kind), b"Too Many Requests", "text/plain", {"Retry-After": fake.retry_after}
            )
        if kind == "429bare":
            return self._send(429, b"Too Many Requests", "text/plain")
        if kind in ("500", "404"):
            return self._send(int(kind), HTML_ERROR_PAGE, "text/html")
        if kind == "html":
            return self._send(200, HTML_ERROR_PAGE, "text/html")
        if kind == "blank":
            return self._send(200, jpeg_bytes(size, blank=True), "image/jpeg")
        if kind == "wrongsize":
            return self._send(200, fake.image(key, size // 2), "image/jpeg")
        body = fake.image(key, size)
        if kind == "truncated":
            body = body[: len(body) // 2]
        self._send(200, body, "image/jpeg")


class _LocalServer:
    """A server on a free port of 127.0.0.1 for the length of a ``with`` block."""

    _httpd: _Server | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler]):
        self._httpd = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"


class FileServer(_LocalServer):
    """Static files on 127.0.0.1 (``files``: URL path -> body) with injectable faults per path
    (``faults``: path -> ``html`` (an error page with status 200), ``truncated`` (the connection
    closes halfway through the announced length), ``trickle`` (the body in 10-byte pieces 50 ms
    apart), ``unannounced`` (no Content-Length: the body runs until the connection closes),
    ``404``, ``503`` (with Retry-After: 0), ``gzip`` (the stored bytes sent with
    ``Content-Encoding: gzip``, as a store that keeps a .tar.gz with that metadata does),
    ``gzip-bomb`` (a gzip-encoded body of 64 MiB of zeros), ``loop`` (a redirect to itself),
    ``file`` (a redirect to file:///etc/passwd), ``elsewhere:<path>`` (a redirect to ``path``
    on ``localhost``, another host name)); a fault given as a list is one fault per request,
    in order, after which the file is served. ``headers`` records each request's headers."""

    def __init__(self, files: dict[str, bytes], faults: dict[str, str] | None = None):
        self.files, self.faults = dict(files), dict(faults or {})
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []

    def __enter__(self) -> FileServer:
        server = self

        class Handler(_Handler):
            def do_GET(self):
                path = urlsplit(self.path).path
                server.requests.append(path)
                server.headers.append(dict(self.headers))
                fault = server.faults.get(path)
                if isinstance(fault, list):
                    fault = fault.pop(0) if fault else None
                if fault == "loop":
                    return self._send(302, b"", "text/plain", {"Location": path})
                if fault == "file":
                    return self._send(302, b"", "text/plain", {"Location": "file:///etc/passwd"})
                if fault and fault.startswith("elsewhere:"):
                    port = self.server.server_address[1]
                    where = f"http://localhost:{port}{fault.split(':', 1)[1]}"
                    return self._send(302, b"", "text/plain", {"Location": where})
                if fault == "gzip-bomb":
                    bomb = gzip.compress(bytes(64 << 20), compresslevel=9)
                    return self._send(200, bomb, "text/plain", {"Content-Encoding": "gzip"})
                if fault == "html":
                    return self._send(200, HTML_ERROR_PAGE, "text/html")
                if fault in ("404", "503"):
                    return self._send(
                        int(fault), HTML_ERROR_PAGE, "text/html", {"Retry-After": "0"}
                    )
                if path not in server.files:
                    return self._send(404, b"not found", "text/plain")
                body = server.files[path]
                if fault == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                if fault == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for i in range(0, len(body), 10):
                        self.wfile.write(body[i : i + 10])
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                if fault == "unannounced":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                if fault == "gzip":
                    return self._send(200, body, "application/x-tar", {"Content-Encoding": "gzip"})
                self._send(200, body, "text/csv")

        return self._serve(Handler)


#: The published files' names per resolution (config/config.yaml, reference.files).
PUBLISHED_NAMES = {
    128: "predictions-oh_p50.csv",
    64: "predictions_64-oh_p50.csv",
    32: "predictions_32-oh_p50.csv",
    16: "predictions_16-oh_p50.csv",
}


def published_csvs(n: int = 200, seed: int = 0, objids=None) -> dict[int, bytes]:
    """Made-up files in the published format (objID,oh_p50,prediction), the same galaxies in each;
    the scatter grows as the resolution falls, as in the paper."""
    rng = np.random.default_rng(seed)
    ids = np.asarray(
        objids if objids is not None else 1237648720693755918 + np.arange(n) * 977, dtype=np.int64
    )
    true = rng.normal(8.9, 0.2, ids.size).round(4)
    out = {}
    for res, scatter in ((128, 0.08), (64, 0.09), (32, 0.1), (16, 0.12)):
        pred = (true + rng.normal(0, scatter, ids.size)).round(6)
        frame = pd.DataFrame({"objID": ids, "oh_p50": true, "prediction": pred})
        out[res] = frame.to_csv(index=False, lineterminator="\n").encode()
    return out


def published_config(bodies: dict[int, bytes]) -> list[dict]:
    """``reference.files`` entries pinning ``bodies`` by sha256."""
    return [
        {
            "resolution": res,
            "name": PUBLISHED_NAMES[res],
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        for res, body in sorted(bodies.items(), reverse=True)
    ]


class Redirector(_LocalServer):
    """Answers every request with ``status`` (a 3xx) to the same path on ``target``, logging
    what it was sent (method, path, headers)."""

    def __init__(self, target: str, status: int = 307):
        self.target, self.status = target.rstrip("/"), status
        self.requests: list[dict] = []

    def __enter__(self) -> Redirector:
        server = self

        class Handler(_Handler):
            def _redirect(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                if length:
                    self.rfile.read(length)
                server.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers)}
                )
                self._send(
                    server.status, b"moved", "text/plain", {"Location": server.target + self.path}
                )

            do_GET = do_PUT = do_DELETE = do_POST = _redirect

        return self._serve(Handler)

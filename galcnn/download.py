"""SkyServer ImgCutout downloads: one shard of the catalogue per job, politely and resumably.

``{url}/dr{N}/SkyServerWS/ImgCutout/getjpeg?ra=&dec=&scale=&width=&height=&opt=``
returns the gri colour JPEG the paper used (FACTS.md: DR14, 128 px, 0.296"/px).

* A thread pool (``concurrency``) shares one token bucket, so the job never sends
  more than ``rate_limit`` requests per second, retries included; a 429/503 with
  ``Retry-After`` pauses the whole bucket, not just the worker that got it.
* Timeouts, connection errors, 429 and 5xx, and bodies that are not a whole JPEG
  of the right size (HTML error pages, truncated transfers) are retried with
  exponential back-off and jitter; what still fails is listed in the manifest
  with the last reason. Blank cutouts (off the footprint, or no source at the centre;
  see :func:`galcnn.cutouts.check_jpeg`) are kept and listed as blank.
* Files are written atomically and a valid file on disk is never fetched again,
  so an interrupted job resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import requests
from tqdm import tqdm

from galcnn import cutouts
from galcnn import io as gio
from galcnn.http import RETRY_STATUS, backoff_delay, retry_after

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class CutoutService:
    """Where and how to ask for cutouts (config ``sdss`` and ``cutouts``)."""

    url: str
    data_release: int
    size: int = 128
    scale: float = 0.296
    opt: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/dr{self.data_release}/SkyServerWS/ImgCutout/getjpeg"

    def params(self, ra: float, dec: float) -> dict:
        return {"ra": repr(float(ra)), "dec": repr(float(dec)), "scale": repr(float(self.scale)),
                "width": self.size, "height": self.size, "opt": self.opt}


class TokenBucket:
    """At most ``rate`` acquisitions per second over any window (burst ``capacity``), shared by threads."""

    def __init__(self, rate: float, capacity: float = 1.0):
        if rate <= 0:
            raise ValueError(f"rate limit must be positive, got {rate!r} requests/s")
        self.rate, self.capacity = float(rate), float(capacity)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until a request may go out; False if ``stop`` was set meanwhile."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                wait = self._paused_until - now
                if wait <= 0:
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        return True
                    wait = (1.0 - self._tokens) / self.rate
            if stop is not None and stop.wait(wait):
                return False
            if stop is None:
                time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every worker back for ``seconds`` (the server's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tokens = 0.0


@dataclass
class Outcome:
    status: str
    reason: str
    attempts: int


def fetch_cutout(
    session: requests.Session,
    service: CutoutService,
    ra: float,
    dec: float,
    path: Path,
    *,
    bucket: TokenBucket,
    retries: int,
    timeout: float,
    backoff: float = 1.0,
    max_backoff: float = 120.0,
    stop: threading.Event | None = None,
) -> Outcome:
    """Fetch one cutout into ``path`` (atomically) with up to ``retries`` attempts."""
    reason = "not attempted"
    for attempt in range(1, retries + 1):
        if not bucket.acquire(stop):
            return Outcome(cutouts.FAILED, "interrupted", attempt - 1)
        pause = None
        try:
            resp = session.get(service.endpoint, params=service.params(ra, dec), timeout=timeout)
        except requests.RequestException as exc:
            reason = f"{type(exc).__name__}"
        else:
            if resp.status_code == 200:
                status, reason = cutouts.check_jpeg(resp.content, service.size)
                if status != cutouts.FAILED:
                    gio.write_bytes(path, resp.content)
                    return Outcome(status, reason, attempt)
            else:
                reason = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUS:
                    return Outcome(cutouts.FAILED, reason, attempt)
                pause = retry_after(resp.headers.get("Retry-After"))
        if attempt == retries:
            break
        wait = backoff_delay(attempt, backoff, max_backoff)
        if pause is not None:
            bucket.pause(pause)
            wait = max(wait, pause)
        log.debug("ra=%s dec=%s attempt %d failed (%s); retry in %.2f s", ra, dec, attempt, reason, wait)
        if stop is not None and stop.wait(wait):
            return Outcome(cutouts.FAILED, "interrupted", attempt)
        if stop is None:
            time.sleep(wait)
    return Outcome(cutouts.FAILED, f"{reason} after {retries} attempts", retries)


def download_shard(
    catalog: pd.DataFrame,
    shard: int,
    n_shards: int,
    root: str | Path,
    out_manifest: str | Path,
    service: CutoutService,
    *,
    concurrency: int,
    rate_limit: float,
    retries: int,
    timeout: float,
    backoff: float = 1.0,
) -> pd.DataFrame:
    """Download the cutouts of one shard and write its manifest (objID, status, reason, path).

    Valid files already on disk are kept (resume); temporary files left by an
    interrupted run are removed first. Failed cutouts get no file and are listed
    with their last reason; the job still succeeds, so retry them with
    ``--forcerun cutouts_download`` (files on disk are kept).
    """
    members = cutouts.shard_members(catalog, shard, n_shards)
    settings = {k: getattr(service, k) for k in ("data_release", "size", "scale", "opt")}
    _remove_stale_temporaries(cutouts.open_shard(root, shard, settings))
    records: dict[int, dict] = {}
    todo = []
    for objid, ra, dec in members[["objID", "ra", "dec"]].itertuples(index=False):
        path = cutouts.cutout_path(root, shard, objid)
        if path.exists():
            status, reason = cutouts.check_file(path, service.size)
            if status != cutouts.FAILED:
                records[int(objid)] = _record(objid, status, reason, path)
                continue
            log.info("refetching %s: %s", path, reason)
        todo.append((int(objid), float(ra), float(dec), path))
    log.info("shard %d: %d galaxies, %d already on disk, %d to download from %s",
             shard, len(members), len(records), len(todo), service.endpoint)

    bucket = TokenBucket(rate_limit)
    stop = threading.Event()
    local = threading.local()
    sessions: list[requests.Session] = []

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        return local.session

    def work(item):
        objid, ra, dec, path = item
        return objid, path, fetch_cutout(session(), service, ra, dec, path, bucket=bucket, retries=retries,
                                         timeout=timeout, backoff=backoff, stop=stop)

    attempts = 0
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cutout")
    try:
        futures = [pool.submit(work, item) for item in todo]
        with tqdm(total=len(todo), desc=f"shard {shard:03d}", unit="img", mininterval=2.0) as bar:
            for future in as_completed(futures):
                objid, path, outcome = future.result()
                attempts += outcome.attempts
                records[objid] = _record(objid, outcome.status, outcome.reason, path)
                if outcome.status == cutouts.FAILED:
                    log.warning("objID %d failed: %s", objid, outcome.reason)
                bar.update()
    except BaseException as exc:
        # Ctrl-C or an error: let in-flight requests finish their atomic writes, start no new ones.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        log.warning("shard %d stopped (%s) after %d of %d downloads; the files on disk are kept and a rerun resumes",
                    shard, type(exc).__name__, len(records) - (len(members) - len(todo)), len(todo))
        raise
    finally:
        pool.shutdown(wait=True)
        for s in sessions:
            s.close()

    ordered = [records[int(o)] for o in members["objID"]]
    manifest = cutouts.write_manifest(out_manifest, ordered)
    counts = manifest["status"].value_counts().to_dict()
    log.info("shard %d: %s; %d requests for %d downloads", shard, counts, attempts, len(todo))
    return manifest


def _record(objid, status: str, reason: str, path: Path) -> dict:
    return {"objID": int(objid), "status": status, "reason": reason,
            "path": str(path) if status != cutouts.FAILED else ""}


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries (``.<name>.<random>.jpg``, see galcnn.io.atomic_path) a killed job left behind."""
    stale = list(folder.glob(".*.jpg")) if folder.is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary files left by an interrupted run in %s", len(stale), folder)

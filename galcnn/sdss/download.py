"""SkyServer ImgCutout downloads: one shard of the catalogue per job, politely and resumably.

``{url}/dr{N}/SkyServerWS/ImgCutout/getjpeg?ra=&dec=&scale=&width=&height=&opt=``
returns the gri colour JPEG the paper used (docs/paper.md: DR14, 128 px, each galaxy at the scale of
its ``scale`` column in the positions table, :func:`galcnn.cutouts.cutout_scales`; ``service.scale``
for a table without one).

* A thread pool (``concurrency``) shares one token bucket, so the job never sends
  more than ``rate_limit`` requests per second, retries included; a 429/503 pauses
  the whole bucket, not just the worker that got it (:mod:`galcnn.sdss.web`).
* Timeouts, connection errors, 429 and 5xx, and bodies that are not a whole JPEG
  of the right size (HTML error pages, truncated transfers) are retried with
  exponential back-off and jitter; what still fails is listed in the manifest
  with the last reason. Blank cutouts (off the footprint, or no source at the centre;
  see :func:`galcnn.cutouts.check_jpeg`) are kept and listed as blank.
* An outage is not a result: when more than ``max_failed_fraction`` of the shard's
  downloads, or ``max_consecutive_failures`` in a row, fail after every retry, the job
  fails (:class:`ServiceOutage`) without a manifest, so nothing downstream trains on
  what is left; the files it got are kept for the rerun.
* Files are written atomically and a valid file on disk is never fetched again,
  so an interrupted job resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import requests
from tqdm import tqdm

from galcnn import cutouts, storage
from galcnn.sdss import web
from galcnn.sdss.web import TokenBucket

log = logging.getLogger(__name__)

#: Slack over the raw pixels a JPEG body may have before it is refused unread (headers, markers).
BODY_SLACK = 64 << 10


class ServiceOutage(RuntimeError):
    """So many downloads failed for network or server reasons that the service is taken to be down."""


@dataclass(frozen=True)
class CutoutService:
    """Where and how to ask for cutouts (config ``sdss`` and ``cutouts``). ``scale`` is the fixed
    framing's; ``framing`` and ``framing_factor`` say how the positions table's per-galaxy scales
    were made (they mark the shard's files, :func:`galcnn.cutouts.open_shard`)."""

    url: str
    data_release: int
    size: int = 128
    scale: float = 0.296
    opt: str = ""
    framing: str = "fixed"
    framing_factor: float = 2.0

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/dr{self.data_release}/SkyServerWS/ImgCutout/getjpeg"

    def params(self, ra: float, dec: float, scale: float | None = None) -> dict:
        """The request's query parameters; ``scale`` (arcsec/px) defaults to the service's."""
        return {
            "ra": repr(float(ra)),
            "dec": repr(float(dec)),
            "scale": repr(float(self.scale if scale is None else scale)),
            "width": self.size,
            "height": self.size,
            "opt": self.opt,
        }


@dataclass
class Outcome:
    status: str
    reason: str
    attempts: int
    #: Failed after every retry (network, server or bad-body reasons), as during an outage.
    exhausted: bool = False


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
    scale: float | None = None,
) -> Outcome:
    """Fetch one cutout into ``path`` (atomically) with up to ``retries`` attempts, at ``scale``
    arcsec per pixel (the service's when None)."""
    # A JPEG of the requested size is smaller than its raw pixels; a larger body is not one.
    max_bytes = 2 * 3 * service.size**2 + BODY_SLACK
    attempts = 0

    def attempt(n: int) -> Outcome:
        nonlocal attempts
        if not bucket.acquire(stop):
            raise web.Interrupted("interrupted")
        attempts = n
        try:
            reply = web.request(
                session,
                "GET",
                service.endpoint,
                params=service.params(ra, dec, scale),
                timeout=timeout,
                max_bytes=max_bytes,
            )
        except web.TooLarge as exc:
            return Outcome(cutouts.FAILED, str(exc), n)
        except requests.RequestException as exc:
            raise web.Retry(type(exc).__name__) from None
        if reply.status == 200:
            status, reason = cutouts.check_jpeg(reply.body, service.size)
            if status != cutouts.FAILED:
                storage.write_bytes(path, reply.body)
                return Outcome(status, reason, n)
            raise web.Retry(reason, reply)
        reason = f"HTTP {reply.status}"
        if reply.status not in web.RETRY_STATUS:
            return Outcome(cutouts.FAILED, reason, n)
        raise web.Retry(reason, reply)

    try:
        return web.retrying(
            attempt,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            what=f"ra={ra} dec={dec}",
            final=lambda last: web.Unreachable(last.reason),
            bucket=bucket,
            stop=stop,
            level=logging.DEBUG,
        )
    except web.Interrupted:
        return Outcome(cutouts.FAILED, "interrupted", attempts)
    except web.Unreachable as exc:
        return Outcome(cutouts.FAILED, f"{exc} after {retries} attempts", retries, exhausted=True)


def download_shard(
    catalog: pd.DataFrame,
    root: str | Path,
    shard: int,
    n_shards: int,
    service: CutoutService,
    *,
    concurrency: int,
    rate_limit: float,
    retries: int,
    timeout: float,
    backoff: float = 1.0,
    max_failed_fraction: float = 0.05,
    max_consecutive_failures: int = 50,
) -> pd.DataFrame:
    """Download the cutouts of one shard into the store at ``root`` and write its manifest
    (objID, status, reason, path) there; the arguments are :func:`galcnn.mock.images.render_shard`'s.
    ``catalog`` holds objID, ra, dec and, per galaxy, the ImgCutout ``scale`` (arcsec/px;
    :func:`galcnn.cutouts.cutout_scales`); without that column every cutout is at ``service.scale``.

    Valid files already on disk are kept (resume); temporary files left by an
    interrupted run are removed first. A few failed cutouts get no file and are
    listed with their last reason; the job still succeeds, so retry them with
    ``--forcerun cutouts_download`` (files on disk are kept). More than
    ``max_failed_fraction`` of the downloads failing after every retry, or
    ``max_consecutive_failures`` in a row, raise :class:`ServiceOutage` and write
    no manifest.
    """
    members = cutouts.shard_members(catalog, shard, n_shards)
    settings = {
        k: getattr(service, k)
        for k in ("data_release", "size", "scale", "opt", "framing", "framing_factor")
    }
    _remove_stale_temporaries(cutouts.open_shard(root, shard, settings))
    records, todo = _on_disk(members, root, shard, service.size, service.scale)
    log.info(
        "shard %d: %d galaxies, %d already on disk, %d to download from %s",
        shard,
        len(members),
        len(records),
        len(todo),
        service.endpoint,
    )

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
        objid, ra, dec, scale, path = item
        return (
            objid,
            path,
            fetch_cutout(
                session(),
                service,
                ra,
                dec,
                path,
                bucket=bucket,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                stop=stop,
                scale=scale,
            ),
        )

    attempts, watch = (
        0,
        _OutageWatch(shard, len(todo), service, max_failed_fraction, max_consecutive_failures),
    )
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
                watch.add(outcome)
                bar.update()
        watch.finish()
    except BaseException as exc:
        # Ctrl-C or an error: let in-flight requests finish their atomic writes, start no new ones.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        log.warning(
            "shard %d stopped (%s) after %d of %d downloads; the files on disk are kept and a rerun resumes",
            shard,
            type(exc).__name__,
            len(records) - (len(members) - len(todo)),
            len(todo),
        )
        raise
    finally:
        pool.shutdown(wait=True)
        for s in sessions:
            s.close()

    ordered = [records[int(o)] for o in members["objID"]]
    manifest = cutouts.write_manifest(cutouts.manifest_path(root, shard), ordered)
    counts = manifest["status"].value_counts().to_dict()
    log.info("shard %d: %s; %d requests for %d downloads", shard, counts, attempts, len(todo))
    return manifest


def _on_disk(
    members: pd.DataFrame, root: str | Path, shard: int, size: int, scale: float
) -> tuple[dict[int, dict], list]:
    """The manifest records of the valid files already in the store, and (objID, ra, dec, scale,
    path) of every cutout still to download (missing, or failed its check)."""
    records: dict[int, dict] = {}
    todo = []
    scales = members["scale"] if "scale" in members.columns else pd.Series(scale, members.index)
    for objid, ra, dec, at in zip(members["objID"], members["ra"], members["dec"], scales):
        path = cutouts.cutout_path(root, shard, objid)
        if path.exists():
            status, reason = cutouts.check_file(path, size)
            if status != cutouts.FAILED:
                records[int(objid)] = _record(objid, status, reason, path)
                continue
            log.info("refetching %s: %s", path, reason)
        todo.append((int(objid), float(ra), float(dec), float(at), path))
    return records, todo


class _OutageWatch:
    """Counts the downloads that failed after every retry; too many in all, or too many in a
    row, is an outage of the service, not a few bad galaxies: :class:`ServiceOutage`."""

    def __init__(
        self, shard: int, todo: int, service: CutoutService, max_fraction: float, max_in_a_row: int
    ):
        self.shard, self.todo, self.service = shard, todo, service
        self.max_fraction, self.max_in_a_row = max_fraction, max_in_a_row
        self.exhausted, self.in_a_row, self.last = 0, 0, ""

    def add(self, outcome: Outcome) -> None:
        self.exhausted += outcome.exhausted
        self.in_a_row = self.in_a_row + 1 if outcome.exhausted else 0
        self.last = outcome.reason if outcome.exhausted else self.last
        if self.in_a_row >= self.max_in_a_row:
            self._raise(f"{self.in_a_row} downloads in a row")

    def finish(self) -> None:
        if self.exhausted > self.max_fraction * self.todo:
            self._raise(f"more than {self.max_fraction:.0%} of the downloads")

    def _raise(self, what: str) -> None:
        raise ServiceOutage(
            _outage_message(self.shard, what, self.exhausted, self.todo, self.last, self.service)
        )


def _outage_message(
    shard: int, what: str, failed: int, todo: int, last: str, service: CutoutService
) -> str:
    return (
        f"shard {shard}: {what} failed after every retry ({failed} of {todo} failed, last: {last}): "
        f"{service.endpoint} looks unavailable, so the shard is not declared done (no manifest). "
        "The files already fetched are kept; rerun later (Snakemake's --retries does) and only the rest is fetched. "
        "cutouts.max_failed_fraction and cutouts.max_consecutive_failures set these limits."
    )


def _record(objid, status: str, reason: str, path: Path) -> dict:
    return {
        "objID": int(objid),
        "status": status,
        "reason": reason,
        "path": str(path) if status != cutouts.FAILED else "",
    }


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries (``.<name>.<random>.jpg``, see galcnn.storage.atomic_path) a killed job left behind."""
    stale = list(folder.glob(".*.jpg")) if folder.is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary files left by an interrupted run in %s", len(stale), folder)

"""One HTTP discipline for every client: SkyServer cutouts and SQL, reference files, bundles, CasJobs.

* Transient failures (connection errors, timeouts, 408/429/5xx, broken transfers) are
  retried by :func:`retrying`, the one retry loop: jittered exponential back-off, honouring
  Retry-After; an attempt says it may be retried by raising :class:`Retry`.
* A 429 or 503 pauses the whole job (its :class:`TokenBucket`), not only the worker that
  got it: the server is asking every client to slow down.
* A body has a size cap and a whole response a deadline: ``requests``' timeout bounds
  each socket read only, so a server trickling bytes would otherwise hold a job forever.
* Requests carrying a credential do not follow redirects (``requests`` strips only
  ``Authorization`` on a cross-host redirect, so another host would get the token).
* Files go to a temporary file that is checked before it is renamed into place, so a
  failed or rejected download leaves nothing.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from galcnn import storage

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: The server asks every client to slow down: these pause the whole job's bucket.
THROTTLE_STATUS = frozenset({429, 503})
#: Longest Retry-After honoured; a server asking for more gets this much, then a new try.
MAX_RETRY_AFTER = 600.0
#: A whole response must arrive within this many per-read timeouts.
DEADLINE_FACTOR = 4
#: Largest file :func:`download_file` accepts unless told otherwise (a results bundle with models).
MAX_FILE_BYTES = 16 << 30
#: Bytes asked of the socket per read; a read returns what has arrived, so the deadline is checked often.
CHUNK = 1 << 16


class Unreachable(OSError):
    """The server could not be reached or kept failing: being offline, not bad data."""


class BrokenTransfer(OSError):
    """Every attempt's body was cut off before its announced length."""


class TooLarge(OSError):
    """The body is larger than the client accepts: not retried, the next answer would be as large."""


class Redirected(OSError):
    """A redirect that is not followed: the request carries a credential, or the redirects
    loop or lead to a scheme other than http(s) (``file://``)."""


class DeadlineExceeded(requests.Timeout):
    """The whole response took longer than its deadline (a server trickling bytes)."""


class Interrupted(Exception):
    """The job was asked to stop (its ``stop`` event) while waiting to retry."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Retry(Exception):
    """Raised by an attempt of :func:`retrying` that failed in a way worth another try:
    ``reason`` for the log and the final error, and the server's ``reply`` when it answered
    (its Retry-After sets the wait; a 429 or 503 pauses the job's bucket)."""

    def __init__(self, reason: str, reply: Reply | None = None):
        super().__init__(reason)
        self.reason, self.reply = reason, reply


T = TypeVar("T")


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
        """Hold every worker back for ``seconds`` (the server's Retry-After, or the back-off)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tokens = 0.0


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped at MAX_RETRY_AFTER."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def backoff_delay(attempt: int, backoff: float, max_backoff: float) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): doubling, capped, jittered ×0.5–1.5."""
    return min(max_backoff, backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


def retry_wait(
    attempt: int,
    backoff: float,
    max_backoff: float,
    reply: Reply | None = None,
    bucket: TokenBucket | None = None,
) -> float:
    """Seconds before the attempt after ``attempt``: the back-off, at least the reply's Retry-After.

    A 429 or 503 also pauses ``bucket`` that long, so every worker of the job waits,
    whether or not the server said for how long.
    """
    wait = backoff_delay(attempt, backoff, max_backoff)
    if reply is not None:
        wait = max(wait, retry_after(reply.headers.get("Retry-After")) or 0.0)
        if bucket is not None and reply.status in THROTTLE_STATUS:
            bucket.pause(wait)
    return wait


def retrying(
    attempt: Callable[[int], T],
    *,
    retries: int,
    backoff: float,
    max_backoff: float,
    what: str,
    final: Callable[[Retry], BaseException],
    bucket: TokenBucket | None = None,
    stop: threading.Event | None = None,
    level: int = logging.WARNING,
) -> T:
    """``attempt(n)`` for n = 1..``retries`` until it returns, waiting :func:`retry_wait`
    after each :class:`Retry` it raises; any other exception ends the loop at once.

    Each retry is logged at ``level`` naming ``what``. After the last attempt the error
    ``final(last Retry)`` is raised. With ``stop``, a wait ends early when it is set and
    :class:`Interrupted` is raised. The only place a client sleeps between attempts.
    """
    if retries < 1:
        raise ValueError(f"{what}: retries must be at least 1, got {retries}")
    for n in range(1, retries + 1):
        try:
            return attempt(n)
        except Retry as exc:
            last = exc
        if n == retries:
            break
        wait = retry_wait(n, backoff, max_backoff, last.reply, bucket)
        log.log(
            level,
            "%s: attempt %d/%d failed (%s); retrying in %.1f s",
            what,
            n,
            retries,
            last.reason,
            wait,
        )
        if stop is None:
            time.sleep(wait)
        elif stop.wait(wait):
            raise Interrupted(f"{what}: stopped after attempt {n}")
    raise final(last) from None


def iter_body(resp: requests.Response, *, max_bytes: int, deadline: float) -> Iterator[bytes]:
    """The body of a streamed response, refused past ``max_bytes`` or after ``deadline`` (monotonic)."""
    announced = resp.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise TooLarge(
            f"{resp.url}: body of {int(announced)} bytes exceeds the {max_bytes} bytes accepted"
        )
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(
                f"{resp.url}: response not complete within its deadline ({total} bytes received)"
            )
        try:
            # read1 returns what has arrived (waiting at most the read timeout), unlike
            # iter_content, which blocks until a whole chunk is in.
            block = resp.raw.read1(CHUNK, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from None
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from None
        if not block:
            return
        total += len(block)
        if total > max_bytes:
            raise TooLarge(f"{resp.url}: body exceeds the {max_bytes} bytes accepted")
        yield block


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    deadline: float | None = None,
    follow_redirects: bool = True,
    **kwargs,
) -> Reply:
    """One request, its whole body read within ``max_bytes`` and ``deadline`` seconds
    (default :data:`DEADLINE_FACTOR` × ``timeout``). With ``follow_redirects=False`` a 3xx
    raises :class:`Redirected`. Transport errors are ``requests``' own exceptions."""
    until = time.monotonic() + (deadline if deadline is not None else DEADLINE_FACTOR * timeout)
    with session.request(
        method, url, timeout=timeout, stream=True, allow_redirects=follow_redirects, **kwargs
    ) as resp:
        if not follow_redirects and 300 <= resp.status_code < 400:
            target = urlsplit(resp.headers.get("Location", "")).netloc or "an unnamed location"
            raise Redirected(
                f"{method} {_without_query(url)}: HTTP {resp.status_code} redirect to {target} refused; "
                "a request carrying credentials is never redirected: use the service's final https:// URL"
            )
        body = b"".join(iter_body(resp, max_bytes=max_bytes, deadline=until))
        return Reply(resp.status_code, resp.headers, body)


def download_file(
    url: str,
    dest: str | Path,
    *,
    retries: int = 4,
    timeout: float = 60.0,
    deadline: float = 3600.0,
    max_bytes: int = MAX_FILE_BYTES,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    check: Callable[[Path], None] | None = None,
    session: requests.Session | None = None,
    headers: Mapping[str, str] | None = None,
) -> Path:
    """Stream ``url`` into ``dest`` atomically and return ``dest``.

    ``check(tmp_path)`` runs on the complete body before it is renamed into place
    and raises to reject it (the temporary file is then removed). Each attempt has
    ``deadline`` seconds and ``max_bytes`` bytes. Raises :class:`Unreachable` when
    every attempt failed for network or server reasons, :class:`BrokenTransfer`
    when the last body was cut off, :class:`TooLarge` at once for a body over the
    cap, :class:`Redirected` for redirects that cannot be followed (a loop, a ``file://``
    target), and ``requests.HTTPError`` at once for other HTTP errors (404: a wrong URL).
    ``max_bytes`` counts the body as decoded (``Content-Encoding``), so a small compressed
    body cannot unpack past it.
    """
    own = session is None
    session = session or requests.Session()
    broken = False

    def attempt(n: int) -> Path:
        nonlocal broken
        broken = False
        try:
            with session.get(url, timeout=timeout, stream=True, headers=headers) as resp:
                if resp.history:
                    # Another host may serve the file: say where the bytes came from.
                    log.info("%s: redirected to %s", url, _without_query(resp.url))
                if resp.status_code == 200:
                    with storage.atomic_path(dest) as tmp:
                        with open(tmp, "wb") as fh:
                            for block in iter_body(
                                resp, max_bytes=max_bytes, deadline=time.monotonic() + deadline
                            ):
                                fh.write(block)
                        if check is not None:
                            check(tmp)
                    return Path(dest)
                reason = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUS:
                    resp.raise_for_status()
                    raise requests.HTTPError(f"{reason} for {url}", response=resp)
                raise Retry(reason, Reply(resp.status_code, resp.headers, b""))
        except (requests.TooManyRedirects, requests.exceptions.InvalidSchema) as exc:
            # A loop or a redirect to file:// (or another scheme requests cannot fetch):
            # the server's answer, not a transient failure.
            raise Redirected(f"{url}: redirect not followed ({describe(exc)})") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Retry(describe(exc)) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            broken = True
            raise Retry(f"body cut off before its announced length ({exc})") from None

    def final(last: Retry) -> OSError:
        return (BrokenTransfer if broken else Unreachable)(
            f"{url}: {last.reason} after {retries} attempts"
        )

    try:
        return retrying(
            attempt,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            what=url,
            final=final,
        )
    finally:
        if own:
            session.close()


def describe(exc: requests.RequestException) -> str:
    """``ConnectionError (NameResolutionError)`` rather than urllib3's paragraph-long message."""
    cause = re.search(r"Caused by (\w+)\(", str(exc))
    return (
        f"{type(exc).__name__} ({cause.group(1)})"
        if cause
        else f"{type(exc).__name__}: {str(exc)[:200]}"
    )


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"

"""Downloading one file over HTTP(S): timeouts, retries with back-off, atomic writes.

The discipline of the cutout client (:mod:`galcnn.download`) for single files such as
the published reference predictions: transient failures (connection errors,
timeouts, 408/429/5xx, broken transfers) are retried with jittered exponential
back-off, honouring Retry-After; the body goes to a temporary file that is checked
before it is renamed into place, so a failed or rejected download leaves nothing.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import requests

from galcnn import io as gio

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Longest Retry-After honoured; a server asking for more gets this much, then a new try.
MAX_RETRY_AFTER = 600.0


class Unreachable(OSError):
    """The server could not be reached or kept failing: being offline, not bad data."""


class BrokenTransfer(OSError):
    """Every attempt's body was cut off before its announced length."""


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


def download_file(
    url: str,
    dest: str | Path,
    *,
    retries: int = 4,
    timeout: float = 60.0,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    check: Callable[[Path], None] | None = None,
    session: requests.Session | None = None,
) -> Path:
    """Stream ``url`` into ``dest`` atomically and return ``dest``.

    ``check(tmp_path)`` runs on the complete body before it is renamed into place
    and raises to reject it (the temporary file is then removed). Raises
    :class:`Unreachable` when every attempt failed for network or server reasons,
    :class:`BrokenTransfer` when the last body was cut off, and
    ``requests.HTTPError`` at once for other HTTP errors (404: a wrong URL).
    """
    own = session is None
    session = session or requests.Session()
    reason = "not attempted"
    try:
        for attempt in range(1, retries + 1):
            wait_at_least, broken = 0.0, False
            try:
                with session.get(url, timeout=timeout, stream=True) as resp:
                    if resp.status_code == 200:
                        with gio.atomic_path(dest) as tmp:
                            with open(tmp, "wb") as fh:
                                for chunk in resp.iter_content(chunk_size=1 << 20):
                                    fh.write(chunk)
                            if check is not None:
                                check(tmp)
                        return Path(dest)
                    reason = f"HTTP {resp.status_code}"
                    if resp.status_code not in RETRY_STATUS:
                        resp.raise_for_status()
                        raise requests.HTTPError(f"{reason} for {url}", response=resp)
                    wait_at_least = retry_after(resp.headers.get("Retry-After")) or 0.0
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = _describe(exc)
            except requests.exceptions.ChunkedEncodingError as exc:
                reason, broken = f"body cut off before its announced length ({exc})", True
            if attempt < retries:
                wait = max(wait_at_least, backoff_delay(attempt, backoff, max_backoff))
                log.warning("%s: attempt %d/%d failed (%s); retrying in %.1f s", url, attempt, retries, reason, wait)
                time.sleep(wait)
        raise (BrokenTransfer if broken else Unreachable)(f"{url}: {reason} after {retries} attempts")
    finally:
        if own:
            session.close()


def _describe(exc: requests.RequestException) -> str:
    """``ConnectionError (NameResolutionError)`` rather than urllib3's paragraph-long message."""
    cause = re.search(r"Caused by (\w+)\(", str(exc))
    return f"{type(exc).__name__} ({cause.group(1)})" if cause else f"{type(exc).__name__}: {str(exc)[:200]}"

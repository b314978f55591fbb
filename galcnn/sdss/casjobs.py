"""Optional: the same query as a CasJobs batch job, ``SELECT ... INTO mydb.<table>``.

This is how the authors ran it (draft 002, section 3): the result table stays in
the user's MyDB for later use. The token comes from an environment variable and
is never written anywhere: it is removed from every message this module logs or
raises (:func:`redact`). It travels only over https (a loopback address aside) and
never through a redirect (:mod:`galcnn.sdss.web`): a 3xx is an error.

The job is submitted once: its id is stored beside the output (``job_file``) as
soon as CasJobs accepts it, so a rerun after a failed poll resumes that job
rather than submitting a second ``SELECT ... INTO`` (whose table would exist).
Polls are retried with back-off; a job still running after ``max_wait`` is
cancelled, not left running on the server.

CasJobs REST API: ``PUT {url}/contexts/{context}/jobs`` with JSON
``{"Query": ..., "TaskName": ...}`` and header ``X-Auth-Token`` returns the job
id as text; ``GET {url}/jobs/{id}`` returns the job as JSON whose ``Status`` is
0 ready, 1 started, 2 cancelling, 3 cancelled, 4 failed, 5 finished;
``DELETE {url}/jobs/{id}`` cancels it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from galcnn import storage
from galcnn.sdss import web

log = logging.getLogger(__name__)

FINISHED, FAILED_STATES = 5, {3: "cancelled", 4: "failed"}
REDACTED = "[token redacted]"
#: CasJobs answers with a job id or a small JSON record.
MAX_BODY = 1 << 20
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
KEPT = "the job id is kept, so a rerun resumes this job"


class CasJobsError(RuntimeError):
    pass


def redact(text: str, token: str | None) -> str:
    return text.replace(token, REDACTED) if token else text


def read_token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise CasJobsError(
            "query.casjobs is enabled but the environment variable "
            f"{token_env} holding the CasJobs token is unset or empty"
        )
    return token


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise CasJobsError(
            f"query.casjobs.url {url!r} is not an https:// URL; the token must not travel in clear text"
        )


def submit_job(
    sql: str,
    *,
    url: str,
    token_env: str,
    context: str,
    job_file: str | Path | None = None,
    task_name: str = "galcnn",
    timeout: float = 60.0,
    poll: float = 10.0,
    max_wait: float = 3600.0,
    retries: int = 5,
    backoff: float = 5.0,
    max_backoff: float = 120.0,
) -> dict:
    """Submit ``sql`` to CasJobs in ``context`` (e.g. ``DR14``), or resume the job recorded
    in ``job_file``, and wait until it ends.

    Returns the final job record (without anything token-related). Raises
    :class:`CasJobsError` when the job fails, is cancelled or outlasts ``max_wait``
    (it is then cancelled), or when a poll keeps failing after ``retries`` attempts
    (the job id stays in ``job_file`` for the rerun).
    """
    token = read_token(token_env)
    check_url(url)
    headers = {"X-Auth-Token": token, "Content-Type": "application/json", "Accept": "text/plain"}
    base = url.rstrip("/")
    stamp = {
        "url": base,
        "context": context,
        "sql_sha256": hashlib.sha256(sql.encode()).hexdigest(),
    }
    job_file = Path(job_file) if job_file else None

    def call(session, method, path, **kwargs) -> web.Reply:
        return web.request(
            session,
            method,
            f"{base}{path}",
            timeout=timeout,
            max_bytes=MAX_BODY,
            follow_redirects=False,
            headers=headers,
            **kwargs,
        )

    try:
        with requests.Session() as session:
            job_id = _recorded_job(job_file, stamp)
            if job_id is None:
                reply = call(
                    session,
                    "PUT",
                    f"/contexts/{context}/jobs",
                    json={"Query": sql, "TaskName": task_name},
                )
                if reply.status != 200:
                    raise CasJobsError(
                        f"CasJobs refused the job: HTTP {reply.status}: {_text(reply)}"
                    )
                job_id = int(reply.body.decode().strip().strip('"'))
                if job_file is not None:
                    storage.write_json(job_file, {"JobID": job_id, **stamp})
                log.info("CasJobs job %d submitted to context %s", job_id, context)
            else:
                log.info("resuming CasJobs job %d (recorded in %s)", job_id, job_file)
            deadline = time.monotonic() + max_wait
            while True:
                job = _poll(
                    lambda: call(session, "GET", f"/jobs/{job_id}"),
                    job_id,
                    retries,
                    backoff,
                    max_backoff,
                )
                status = int(job.get("Status", -1))
                if status == FINISHED:
                    log.info("CasJobs job %d finished", job_id)
                    _forget(job_file)
                    return {
                        "JobID": job_id,
                        "Status": status,
                        "Message": str(job.get("Message", "")),
                    }
                if status in FAILED_STATES:
                    _forget(job_file)
                    raise CasJobsError(
                        f"CasJobs job {job_id} {FAILED_STATES[status]}: {job.get('Message', '')}"
                    )
                if time.monotonic() > deadline:
                    reply = call(session, "DELETE", f"/jobs/{job_id}")
                    _forget(job_file)
                    raise CasJobsError(
                        f"CasJobs job {job_id} still running after {max_wait:.0f} s (status {status}); "
                        f"cancelled (HTTP {reply.status})"
                    )
                time.sleep(poll)  # the polling interval (not a retry: the job is running)
    except CasJobsError as exc:
        raise CasJobsError(redact(str(exc), token) + f"\nSQL:\n{sql}") from None
    except (requests.RequestException, web.Redirected, web.TooLarge, ValueError) as exc:
        # requests messages can quote the request; keep the token out of them too.
        raise CasJobsError(
            f"CasJobs request failed: {redact(str(exc), token)}\nSQL:\n{sql}"
        ) from None


def _poll(get, job_id: int, retries: int, backoff: float, max_backoff: float) -> dict:
    """The job's record, retrying transient failures (connection errors, timeouts, 408/429/5xx)."""

    def attempt(n: int) -> dict:
        try:
            reply = get()
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise web.Retry(web.describe(exc)) from None
        if reply.status == 200:
            return json.loads(reply.body)
        reason = f"HTTP {reply.status}: {_text(reply, 200)}"
        if reply.status not in web.RETRY_STATUS:
            raise CasJobsError(f"polling CasJobs job {job_id} failed ({reason}); {KEPT}")
        raise web.Retry(reason, reply)

    return web.retrying(
        attempt,
        retries=retries,
        backoff=backoff,
        max_backoff=max_backoff,
        what=f"polling CasJobs job {job_id}",
        final=lambda last: CasJobsError(
            f"polling CasJobs job {job_id} failed ({last.reason}); {KEPT}"
        ),
    )


def _recorded_job(job_file: Path | None, stamp: dict) -> int | None:
    """The id of a job submitted earlier for the same query, service and context, if any."""
    if job_file is None or not job_file.exists():
        return None
    try:
        record = json.loads(job_file.read_text())
        if {k: record.get(k) for k in stamp} == stamp:
            return int(record["JobID"])
    except (ValueError, KeyError, TypeError):
        pass
    log.warning("%s records a job for another query or service; submitting anew", job_file)
    return None


def _forget(job_file: Path | None) -> None:
    if job_file is not None:
        job_file.unlink(missing_ok=True)


def _text(reply: web.Reply, limit: int = 500) -> str:
    return reply.body[:limit].decode(errors="replace")

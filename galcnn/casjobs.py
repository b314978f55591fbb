"""Optional: the same query as a CasJobs batch job, ``SELECT ... INTO mydb.<table>``.

This is how the authors ran it (draft 002, section 3): the result table stays in
the user's MyDB for later use. The token comes from an environment variable and
is never written anywhere: it is removed from every message this module logs or
raises (:func:`redact`).

CasJobs REST API: ``PUT {url}/contexts/{context}/jobs`` with JSON
``{"Query": ..., "TaskName": ...}`` and header ``X-Auth-Token`` returns the job
id as text; ``GET {url}/jobs/{id}`` returns the job as JSON whose ``Status`` is
0 ready, 1 started, 2 cancelling, 3 cancelled, 4 failed, 5 finished.
"""

from __future__ import annotations

import logging
import os
import time

import requests

log = logging.getLogger(__name__)

FINISHED, FAILED_STATES = 5, {3: "cancelled", 4: "failed"}
REDACTED = "[token redacted]"


class CasJobsError(RuntimeError):
    pass


def redact(text: str, token: str | None) -> str:
    return text.replace(token, REDACTED) if token else text


def read_token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise CasJobsError(f"query.casjobs is enabled but the environment variable {token_env} holding the CasJobs token is unset or empty")
    return token


def submit_job(
    sql: str,
    *,
    url: str,
    token_env: str,
    context: str,
    task_name: str = "galcnn",
    timeout: float = 60.0,
    poll: float = 10.0,
    max_wait: float = 3600.0,
) -> dict:
    """Submit ``sql`` to CasJobs in ``context`` (e.g. ``DR14``) and wait until it ends.

    Returns the final job record (without anything token-related). Raises
    :class:`CasJobsError` when the job fails, is cancelled or outlasts ``max_wait``.
    """
    token = read_token(token_env)
    headers = {"X-Auth-Token": token, "Content-Type": "application/json", "Accept": "text/plain"}
    base = url.rstrip("/")
    try:
        with requests.Session() as session:
            resp = session.put(
                f"{base}/contexts/{context}/jobs", json={"Query": sql, "TaskName": task_name}, headers=headers, timeout=timeout
            )
            if resp.status_code != 200:
                raise CasJobsError(f"CasJobs refused the job: HTTP {resp.status_code}: {resp.text[:500]}")
            job_id = int(resp.text.strip().strip('"'))
            log.info("CasJobs job %d submitted to context %s", job_id, context)
            deadline = time.monotonic() + max_wait
            while True:
                resp = session.get(f"{base}/jobs/{job_id}", headers={**headers, "Accept": "application/json"}, timeout=timeout)
                resp.raise_for_status()
                job = resp.json()
                status = int(job.get("Status", -1))
                if status == FINISHED:
                    log.info("CasJobs job %d finished", job_id)
                    return {"JobID": job_id, "Status": status, "Message": str(job.get("Message", ""))}
                if status in FAILED_STATES:
                    raise CasJobsError(f"CasJobs job {job_id} {FAILED_STATES[status]}: {job.get('Message', '')}")
                if time.monotonic() > deadline:
                    raise CasJobsError(f"CasJobs job {job_id} still running after {max_wait:.0f} s (status {status})")
                time.sleep(poll)
    except CasJobsError as exc:
        raise CasJobsError(redact(str(exc), token) + f"\nSQL:\n{sql}") from None
    except (requests.RequestException, ValueError) as exc:
        # requests messages can quote the request; keep the token out of them too.
        raise CasJobsError(f"CasJobs request failed: {redact(str(exc), token)}\nSQL:\n{sql}") from None

"""The tiny configuration end to end through `snakemake --profile slurm` on the local SLURM cluster
(tests/slurm/setup.sh), checked against SLURM's own records of the jobs it ran."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, TINY, copy_workflow, dry_run_jobs

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]

GPU_RULES = {"train_cnn", "predict_cnn"}
# The tiny configuration cut to one target, band set and resolution: every stage and both GPU rules
# in 14 SLURM jobs instead of 45 (the pretend GPU runs one job at a time, ~25 s each).
SUBSET = "targets: [oh_p50]\nbands: [gri]\nresolutions: [4]\n"
JOBCOMP_LOG = Path("/var/log/slurm/jobcomp.log")
RUN_TIMEOUT = 900  # seconds; the run takes about 5 minutes on 2 CPUs

# Only for this test cluster: no slurmdbd, so job status comes from squeue (the cluster keeps
# finished jobs for MinJobAge = 1 h); poll quickly; a failure fails the test instead of being
# retried; and threads fit the 2-CPU node.
TEST_OPTIONS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "2",
    "--retries",
    "0",
    "--max-threads",
    "2",
    "--default-resources",
    "mem_mb=1000",
    "runtime=15",
    "cpus_per_task=threads",
)


def cluster_state() -> str | None:
    """sinfo's view of the cluster, or None where there is no SLURM to talk to."""
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N %T %G"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 and proc.stdout.strip() else None


def run_interruptibly(workdir: Path, *args: str, timeout: float) -> tuple[int, str]:
    """Run snakemake; past the timeout stop it with SIGINT, so that it cancels its SLURM jobs."""
    cmd = [str(Path(sys.executable).with_name("snakemake")), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with open(workdir / "snakemake.out", "w+") as out:
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            rc = None
        out.seek(0)
        text = out.read()
    if rc is None:
        pytest.fail(
            f"snakemake --profile slurm did not finish in {timeout} s (stopped with SIGINT):\n{text[-8000:]}"
        )
    return rc, text


def slurm_jobs(run_id: str) -> list[dict[str, str]]:
    """SLURM's record of every job of a run (the executor names them all by the run id):
    id, state, rule, GPU request."""
    fields = ["JobID", "State", "Comment", "tres-per-job"]
    proc = subprocess.run(
        [
            "squeue",
            "--states=all",
            "-h",
            "--name",
            run_id,
            "-O",
            ",".join(f"{f}:|" for f in fields),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    jobs = []
    for line in proc.stdout.splitlines():
        job_id, state, comment, tres = (v.strip() for v in line.split("|")[:4])
        # The executor labels each job `rule_<rule>` or `rule_<rule>_wildcards_<values>`.
        match = re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", comment)
        assert match, f"SLURM job {job_id} has comment {comment!r}, not the executor's rule label"
        jobs.append({"id": job_id, "state": state, "rule": match.group(1), "tres": tres})
    return jobs


def jobcomp_states(run_id: str) -> dict[str, str]:
    """Job id -> final state of every job of a run in SLURM's job-completion log."""
    states = {}
    for line in JOBCOMP_LOG.read_text().splitlines():
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if fields.get("Name") == run_id:
            states[fields["JobId"]] = fields["JobState"]
    return states


def test_tiny_run_under_slurm(tmp_path):
    state = cluster_state()
    if state is None:
        pytest.skip(
            "no SLURM cluster: `sinfo` failed; bring one up with `sudo bash tests/slurm/setup.sh`"
        )
    assert "gpu" in state, (
        f"the SLURM node has no gpu GRES (sinfo: {state.strip()}); rerun tests/slurm/setup.sh"
    )

    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "subset.yaml").write_text(SUBSET)
    config = ("--configfile", str(TINY.relative_to(REPO)), "subset.yaml")
    planned = dry_run_jobs(workdir, *config)
    assert planned, "the dry run plans no jobs"

    start = time.monotonic()
    rc, out = run_interruptibly(
        workdir, "--profile", "slurm", *config, *TEST_OPTIONS, timeout=RUN_TIMEOUT
    )
    wall = time.monotonic() - start
    assert rc == 0, f"snakemake --profile slurm failed ({rc}):\n{out[-8000:]}"
    print(f"tiny run under SLURM: {wall:.0f} s, {sum(planned.values())} jobs")

    assert re.search(r"cluster preflight: the \d+ jobs to submit fit the cluster's nodes", out), (
        "the preflight did not run"
    )

    # Snakemake's own account: which jobs it kept local and which it submitted.
    local = Counter(re.findall(r"^localrule (\w+):", out, re.MULTILINE))
    submitted = len(re.findall(r"has been submitted with SLURM jobid", out))

    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    jobs = slurm_jobs(run_id)
    by_rule = Counter(job["rule"] for job in jobs)
    remote_planned = Counter(planned) - local

    assert by_rule == remote_planned, (
        f"SLURM ran {by_rule}, the DAG's non-local jobs are {remote_planned}"
    )
    assert len(jobs) == submitted
    assert not set(by_rule) & set(local), "a rule ran both locally and under SLURM"
    assert GPU_RULES <= set(by_rule), f"no {GPU_RULES - set(by_rule)} job ran under SLURM"
    assert {j["state"] for j in jobs} == {"COMPLETED"}, [
        j for j in jobs if j["state"] != "COMPLETED"
    ]
    assert jobcomp_states(run_id) == {j["id"]: "COMPLETED" for j in jobs}, (
        "squeue and the job-completion log disagree"
    )

    for job in jobs:
        print(f"SLURM job {job['id']} {job['rule']} {job['state']} tres-per-job={job['tres']}")
        if job["rule"] in GPU_RULES:
            assert "gpu" in job["tres"], (
                f"{job['rule']} job {job['id']} requested no GPU (tres-per-job {job['tres']})"
            )
        else:
            assert "gpu" not in job["tres"], (
                f"{job['rule']} job {job['id']} requested a GPU ({job['tres']})"
            )


def test_a_request_no_node_can_run_stops_the_run_before_anything_is_submitted(tmp_path):
    """The cluster preflight: baselines_rf asks for one CPU more than the largest node has."""
    state = cluster_state()
    if state is None:
        pytest.skip(
            "no SLURM cluster: `sinfo` failed; bring one up with `sudo bash tests/slurm/setup.sh`"
        )
    cpus = max(
        int(c)
        for c in subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%c"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "subset.yaml").write_text(SUBSET)
    # As a user would run it: without the tests' --max-threads cap.
    cap = TEST_OPTIONS.index("--max-threads")
    options = TEST_OPTIONS[:cap] + TEST_OPTIONS[cap + 2 :]
    start = time.monotonic()
    rc, out = run_interruptibly(
        workdir,
        "--profile",
        "slurm",
        "--configfile",
        str(TINY.relative_to(REPO)),
        "subset.yaml",
        *options,
        "--set-threads",
        f"baselines_rf={cpus + 1}",
        timeout=120,
    )
    wall = time.monotonic() - start
    print(
        f"preflight stopped the run in {wall:.1f} s:\n{out[out.find('cluster preflight') :][:1500]}"
    )
    assert rc != 0 and wall < 60
    assert "cluster preflight: nothing was submitted" in out
    assert re.search(
        rf"rule baselines_rf asks for {cpus + 1} CPUs, \d+ MB, [\d.]+ min on partition \w+; no node there can run it",
        out,
    )
    assert re.search(rf"Largest node \S+: {cpus} CPUs, .*\({cpus + 1} CPUs > {cpus}\)", out)
    assert (
        "--max-threads" in out and "set-resources" in out and "resources.train for train_cnn" in out
    )
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    assert slurm_jobs(run_id) == [], "a job was submitted despite the preflight"
    assert not (workdir / "results").exists(), "a job ran before the preflight"

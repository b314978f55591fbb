"""Ctrl-C in the middle of the downloads, then a rerun: nothing finished is fetched again.

A real `snakemake` run of the SDSS path (catalog_query -> catalog_merge ->
cutouts_download) in a temporary copy of the workflow, against the local fake
SkyServer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from servers import FakeSkyServer, fake_catalog, position_key

from galcnn import cutouts, paths

N_GALAXIES, SHARDS = 80, 2
TARGETS = [f"results/cutouts/shard{i:03d}.manifest.parquet" for i in range(SHARDS)]


def sdss_config(url: str) -> dict:
    return {
        "survey": "sdss",
        "sdss": {"url": url, "data_release": 14},
        "query": {"partitions": 2, "retries": 2},
        "cutouts": {
            "shards": SHARDS,
            "concurrency": 2,
            "rate_limit": 20.0,
            "retries": 3,
            "timeout": 5.0,
        },
    }


def start_snakemake(workdir: Path) -> subprocess.Popen:
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        *TARGETS,
        "--configfile",
        "sdss_test.yaml",
        "--cores",
        "2",
        "--resources",
        "sdss_http=2",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    # Its own process group, so the SIGINT reaches snakemake and its jobs as a terminal's Ctrl-C does;
    # SIGINT's default action restored, as a shell without job control starts background commands ignoring it.
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.e2e
def test_interrupted_downloads_resume_without_refetching(workflow_copy):
    galaxies = fake_catalog(N_GALAXIES, seed=21)
    root = workflow_copy / "results" / "cutouts"
    with FakeSkyServer(galaxies, latency=0.25) as server:
        (workflow_copy / "sdss_test.yaml").write_text(yaml.safe_dump(sdss_config(server.url)))

        proc = start_snakemake(workflow_copy)
        deadline = time.monotonic() + 120
        while len(server.cutout_log()) < N_GALAXIES // 2:
            assert proc.poll() is None, (
                f"snakemake ended before the interrupt:\n{proc.stdout.read()[-5000:]}"
            )
            assert time.monotonic() < deadline, "downloads did not start within 120 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode != 0, out[-3000:]
        requests_before = len(server.cutout_log())

        assert not any((workflow_copy / t).exists() for t in TARGETS)
        finished = {p.stem for p in root.rglob("*.jpg") if not p.name.startswith(".")}
        assert 0 < len(finished) < N_GALAXIES, (
            f"{len(finished)} cutouts on disk after the interrupt"
        )
        for p in root.rglob("*.jpg"):
            if not p.name.startswith("."):
                assert cutouts.check_file(p, 128)[0] == cutouts.OK, f"{p} is not a whole cutout"

        rerun = start_snakemake(workflow_copy)
        out, _ = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, out[-5000:]
        refetched = server.cutout_log()[requests_before:]

    positions = {
        str(o): position_key(r, d)
        for o, r, d in zip(galaxies["objID"], galaxies["ra"], galaxies["dec"])
    }
    assert not {e["key"] for e in refetched} & {positions[o] for o in finished}, (
        "finished cutouts were fetched again"
    )
    assert len(refetched) == N_GALAXIES - len(finished)

    manifest = cutouts.read_manifests([workflow_copy / t for t in TARGETS])
    assert sorted(manifest["objID"]) == sorted(galaxies["objID"])
    assert (manifest["status"] == cutouts.OK).all()
    # Temporaries are dot files; the folder's record of its run (paths.WORKSPACE) is one by design.
    records = {workflow_copy / paths.WORKSPACE, workflow_copy / paths.RESTORE_MARKER}
    leftovers = [
        p for p in workflow_copy.joinpath("results").rglob(".*") if p.is_file() and p not in records
    ]
    assert not leftovers, f"temporary files left behind: {leftovers}"


@pytest.mark.e2e
def test_an_outage_stops_the_run_before_packing_and_a_later_run_completes(workflow_copy):
    """SkyServer answers 503 to every cutout: the shard jobs fail with the outage named, nothing is
    packed; once it is back the same command finishes, fetching each cutout once."""
    from conftest import snakemake

    galaxies = fake_catalog(40, seed=22)
    packed = "results/images/128px.npy"
    with FakeSkyServer(galaxies, retry_after="0") as server:
        config = sdss_config(server.url)
        config["cutouts"] |= {"retries": 2, "max_consecutive_failures": 3}
        (workflow_copy / "sdss_test.yaml").write_text(yaml.safe_dump(config))
        server.outage = True
        # no --resources: the limit comes from profiles/default
        failed = snakemake(
            workflow_copy,
            packed,
            "--configfile",
            "sdss_test.yaml",
            "--cores",
            "2",
            "--keep-going",
            check=False,
        )
        logs = "".join(p.read_text() for p in (workflow_copy / "logs").rglob("*shard*"))
        assert failed.returncode != 0
        assert (
            "ServiceOutage" in logs
            and "3 downloads in a row failed" in logs
            and "looks unavailable" in logs
        )
        assert (
            not any((workflow_copy / t).exists() for t in TARGETS)
            and not (workflow_copy / packed).exists()
        )

        server.outage = False
        snakemake(workflow_copy, packed, "--configfile", "sdss_test.yaml", "--cores", "2")
        served = server.served_ok()
    assert len(np.load(workflow_copy / packed, mmap_mode="r")) == len(galaxies)
    assert sorted(served.values()) == [1] * len(galaxies)

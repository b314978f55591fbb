"""Shared fixtures: a copy of the workflow in a temporary folder, one finished tiny run, and
rendered cutouts of the demo's mock galaxies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mock_cutouts
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config" / "tiny.yaml"
#: What a run needs from the repository (results/, logs/ and .snakemake/ stay behind).
WORKFLOW_FILES = (
    "Snakefile",
    "rules",
    "workflow",
    "config",
    "envs",
    "report",
    "galcnn",
    "slurm",
    "profiles",
    "tests/config",
)


def load_rules(configfiles, config=None):
    """The workflow's rules as Snakemake parses them for these configs (no job runs);
    ``configfiles`` relative to the repository."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(
                configfiles=[REPO / c for c in configfiles], config=config or {}
            ),
            snakefile=REPO / "Snakefile",
            workdir=REPO,
        )
        return list(workflow._workflow.rules)


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow's files (not its results) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the venv's snakemake in ``workdir`` (``env`` added to its environment); on failure show its output."""
    cmd = [str(Path(sys.executable).with_name("snakemake")), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-10000:]}"
        )
    return proc


def dry_run_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule name -> job count that a dry run would execute (empty when nothing to do)."""
    proc = snakemake(workdir, "-n", "--quiet", "rules", *args)
    counts: dict[str, int] = {}
    in_table = False
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table and len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    return copy_workflow(tmp_path / "wf")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny configuration run end to end once per test session; tests copy it, never modify it."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny") / "wf")
    snakemake(workdir, "--configfile", str(TINY.relative_to(REPO)), "--cores", "2")
    return workdir


def copy_finished(run: Path, dest: Path) -> Path:
    """A copy of a finished run, timestamps kept, so reruns are judged as in the original."""
    shutil.copytree(run, dest, symlinks=True, copy_function=shutil.copy2)
    return dest


@pytest.fixture(scope="session")
def demo_cutouts():
    """(rows, RGB cutouts before JPEG) of 300 demo galaxies: the 30 faintest and 30 smallest, then others."""
    rows = mock_cutouts.sample(mock_cutouts.demo_population(), 300, 30)
    return rows, [mock_cutouts.render(row) for _, row in rows.iterrows()]

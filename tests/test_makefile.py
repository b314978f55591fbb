"""The Makefile's task targets run the venv's snakemake with the run's configuration (CONFIG)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REPO

TASKS = {
    "reproduce": [],
    "figures": ["figures"],
    "report": ["--report", "results/report.html"],
    "export": ["export"],
    "bundle": ["bundle"],
    "cluster": ["--profile", "slurm"],
    "cluster-envs": ["--profile", "slurm", "--sdm", "conda", "--conda-create-envs-only"],
}

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(*args: str, venv) -> list[str]:
    """The snakemake command lines `make -n` would run (the venv is taken as installed)."""
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", f"VENV={venv}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if f"{venv}/bin/snakemake" in line]


@pytest.fixture
def venv(tmp_path):
    """A venv marked installed after the requirements were last changed."""
    (tmp_path / "bin").mkdir()
    (tmp_path / ".installed").touch()
    return tmp_path


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_runs_snakemake_with_the_config(task, venv):
    (line,) = planned(task, "CONFIG=config/demo.yaml", venv=venv)
    assert "--configfile config/demo.yaml" in line
    assert " ".join(TASKS[task]) in line


def test_the_paper_config_by_default(venv):
    (line,) = planned("figures", venv=venv)
    assert "--configfile config/config.yaml" in line


def test_demo_runs_the_dag_and_the_report_on_the_demo_config(venv):
    lines = planned("demo", venv=venv)
    assert len(lines) == 2 and all("--configfile config/demo.yaml" in line for line in lines)
    assert "--report" in lines[1]


def test_apply_names_its_catalogue(venv):
    (line,) = planned("apply", "CATALOG=data/my_galaxies.csv", venv=venv)
    assert "apply --config apply='{catalog: data/my_galaxies.csv, name: my_galaxies}'" in line


def test_venv_installs_galcnn_editable_with_progress(tmp_path):
    out = subprocess.run(
        ["make", "-n", f"VENV={tmp_path / 'v'}", "venv"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "pip install --requirement requirements.txt" in out and "--quiet" not in out
    assert "pip install --no-deps --editable ." in out

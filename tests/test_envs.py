"""The rules' conda environments (envs/*.yaml) pin exactly the versions of requirements.txt."""

from __future__ import annotations

import re
import sys

import pytest
import yaml
from conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
#: conda-forge names whose PyPI name differs.
CONDA_TO_PIP = {"matplotlib-base": "matplotlib", "pytorch": "torch"}
#: Unpinned on purpose: the interpreter (pinned to major.minor below) and the installer.
UNPINNED = {"python", "pip"}


def normalise(name: str) -> str:
    """PyPI's name normalisation (PEP 503), so GalSim == galsim and PyYAML == pyyaml."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[normalise(name)] = version.strip()
    return pins


def env_pins(path) -> dict[str, str | None]:
    """Package -> pinned version (None where unpinned) of a conda environment file."""
    env = yaml.safe_load(path.read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            specs = [(s, "==") for s in dep["pip"]]
        else:
            specs = [(dep, "=")]
        for spec, op in specs:
            name, _, version = spec.partition(op)
            name = normalise(name.strip())
            pins[normalise(CONDA_TO_PIP.get(name, name))] = version.strip() or None
    return pins


def test_three_environments():
    assert {p.name for p in ENVS} == {"data.yaml", "torch.yaml", "analysis.yaml"}


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_pins_agree_with_requirements(path):
    env = yaml.safe_load(path.read_text())
    assert env["channels"][0] == "conda-forge", (
        f"{path.name}: conda-forge must be the first channel"
    )
    required = requirements()
    pins = env_pins(path)
    assert pins.get("python") == f"{sys.version_info.major}.{sys.version_info.minor}", (
        f"{path.name}: python must be pinned to the venv's {sys.version_info.major}.{sys.version_info.minor}"
    )
    for name, version in pins.items():
        if name in UNPINNED:
            continue
        assert name in required, f"{path.name}: {name} is not in requirements.txt"
        assert version == required[name], (
            f"{path.name}: {name}={version}, requirements.txt has {required[name]}"
        )


def test_every_rule_env_exists():
    """Each `conda:` directive in rules/ names one of these files."""
    named = set()
    for smk in (REPO / "rules").glob("*.smk"):
        named |= set(re.findall(r'^\s*"\.\./envs/([\w.-]+)"', smk.read_text(), re.MULTILINE))
    assert named, "no rule names a conda environment"
    assert named <= {p.name for p in ENVS}, (
        f"rules name missing environments: {named - {p.name for p in ENVS}}"
    )

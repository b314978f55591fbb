"""The rules' conda environments (envs/*.yaml) pin exactly the versions of requirements.txt and
hold every package their rules' scripts import."""

from __future__ import annotations

import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import REPO, load_rules
from packaging.requirements import Requirement

from galcnn.pipeline.imports import import_closure, rule_script, third_party

ENVS = sorted((REPO / "envs").glob("*.yaml"))
#: conda-forge names whose PyPI name differs.
CONDA_TO_PIP = {"matplotlib-base": "matplotlib", "pytorch": "torch"}
#: Unpinned on purpose: the interpreter (pinned to major.minor below) and the installer.
UNPINNED = {"python", "pip"}


def normalise(name: str) -> str:
    """PyPI's name normalisation (PEP 503), so GalSim == galsim and PyYAML == pyyaml."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines() -> list[Requirement]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in lines if line.split("#", 1)[0].strip()]


def requirements() -> dict[str, str]:
    pins = {}
    for req in requirement_lines():
        (spec,) = req.specifier
        assert spec.operator == "==", f"requirements.txt: {req} is not pinned with =="
        pins[normalise(req.name)] = spec.version
    return pins


#: Platforms a user may install on (the README names Linux and macOS).
PLATFORMS = {
    "linux": {"platform_system": "Linux", "sys_platform": "linux"},
    "macos": {"platform_system": "Darwin", "sys_platform": "darwin"},
    "windows": {"platform_system": "Windows", "sys_platform": "win32"},
}


def test_cuda_libraries_install_on_linux_only():
    """torch's PyPI wheels need the CUDA libraries on Linux only (its own markers); without a
    marker pip would try to install them on macOS, where they do not exist."""
    cuda = [r for r in requirement_lines() if re.match(r"nvidia-|cuda-|triton$", normalise(r.name))]
    assert len(cuda) >= 16, [r.name for r in cuda]
    for req in cuda:
        assert req.marker is not None, f"requirements.txt: {req.name} has no platform marker"
        installs = {p: req.marker.evaluate(env) for p, env in PLATFORMS.items()}
        assert installs == {"linux": True, "macos": False, "windows": False}, (req.name, installs)
    everywhere = [r.name for r in requirement_lines() if r not in cuda and r.marker]
    assert not everywhere, f"only the CUDA libraries are platform-specific: {everywhere}"


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


@pytest.fixture(scope="module")
def script_rules():
    """Every script rule of the paper's run, the demo and a bundle restore: {name: (script, env file)}."""
    rules = {}
    for configfiles, config in (
        (["config/config.yaml"], None),
        (["config/demo.yaml"], None),
        (["config/demo.yaml"], {"bundle": "/nonexistent/galcnn-results-0.tar.gz"}),
    ):
        for rule in load_rules(configfiles, config):
            script = rule_script(rule)
            if script is not None:
                env = Path(rule.basedir.get_path_or_uri(secret_free=True), rule.conda_env)
                rules[rule.name] = (script.resolve(), env.resolve())
    return rules


def test_every_script_rule_has_an_env(script_rules):
    assert len(script_rules) > 35, sorted(script_rules)
    missing = [name for name, (_, env) in script_rules.items() if not env.is_file()]
    assert not missing, f"script rules without a conda env file: {missing}"


@cache
def _providers() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distributions(import_name: str) -> set[str]:
    """The installed distributions that provide a top-level import name (PIL -> pillow)."""
    found = _providers().get(import_name)
    assert found, f"no installed distribution provides {import_name!r}: add it to requirements.txt"
    return {normalise(d) for d in found}


def test_envs_hold_what_scripts_import(script_rules):
    """Under --sdm conda a job sees only its env: every package its script imports, directly or
    through galcnn (galcnn.pipeline.imports.import_closure), must be in it."""
    problems = []
    for name, (script, env) in sorted(script_rules.items()):
        have = set(env_pins(env))
        for module in sorted(third_party(import_closure(script))):
            if not distributions(module) & have:
                problems.append(f"{name} ({script.name}) imports {module}, not in {env.name}")
    assert not problems, "\n".join(problems)


#: The rules that talk to a server: a failed job is retried by Snakemake, with or without a profile.
NETWORK_RULES = {"catalog_query", "catalog_casjobs", "cutouts_download", "weights_fetch"}


def test_network_rules_retry():
    rules = {
        r.name: r
        for r in load_rules(["config/config.yaml"], {"query": {"casjobs": {"enabled": True}}})
    }
    rules.update(
        {
            r.name: r
            for r in load_rules(["config/demo.yaml"], {"bundle": "https://example.org/b.tar.gz"})
        }
    )
    for name in NETWORK_RULES | {"bundle_restore"}:
        assert rules[name]._restart_times == 2, f"{name}: retries {rules[name]._restart_times}"
    assert rules["train_cnn"]._restart_times is None  # the profile's --retries, if any


def test_gpu_requested_only_when_configured():
    """The demo trains on a CPU: its GPU rules request no GPU (and the log shows none)."""
    paper = {r.name: r for r in load_rules(["config/config.yaml"])}
    demo = {r.name: r for r in load_rules(["config/demo.yaml"])}
    for name in ("train_cnn", "predict_cnn"):
        assert paper[name].resources["gpu"] == 1
        assert "gpu" not in demo[name].resources

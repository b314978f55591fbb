"""Licence, citation, changelog and version: present, valid and telling the same version."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import REPO

import galcnn

#: What the Citation File Format 1.2.0 schema requires of the file and of a reference.
CFF_REQUIRED = {"cff-version", "message", "title", "authors"}
REFERENCE_REQUIRED = {"type", "title", "authors"}


def citation() -> dict:
    return yaml.safe_load((REPO / "CITATION.cff").read_text())


def test_licence_is_mit_and_declared():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" == citation()["license"]


def test_citation_file_is_cff_1_2_0_with_the_paper():
    cff = citation()
    assert cff["cff-version"] == "1.2.0" and CFF_REQUIRED <= set(cff)
    assert cff["type"] == "software" and cff["version"] == galcnn.__version__
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cff["date-released"])
    paper = cff["preferred-citation"]
    assert REFERENCE_REQUIRED <= set(paper)
    assert paper["doi"] in [r.get("doi") for r in cff["references"]]
    assert (paper["journal"], paper["volume"], paper["start"], paper["year"]) == (
        "Monthly Notices of the Royal Astronomical Society",
        484,
        4683,
        2019,
    )
    assert [a["family-names"] for a in paper["authors"]] == ["Wu", "Boada"]
    assert all(a.get("name") or a.get("family-names") for a in cff["authors"])


def test_changelog_heads_with_the_version():
    headings = re.findall(r"^## (\S+)", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[:2] == ["Unreleased", galcnn.__version__]
    assert citation()["date-released"] in (REPO / "CHANGELOG.md").read_text()


def test_pyproject_takes_the_version_from_the_package_and_ships_the_sql():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["dynamic"]["version"] == {"attr": "galcnn.__version__"}
    for package, files in tool["package-data"].items():
        for name in files:
            assert (REPO / package.replace(".", "/") / name).is_file(), (package, name)
    assert "query.sql" in tool["package-data"]["galcnn.sdss"]

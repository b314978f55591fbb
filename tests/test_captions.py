"""Report captions and the report's introduction say which predictions and TTA the run used."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
import pytest
import yaml
from conftest import REPO
from snakemake.utils import update_config

CAPTIONS = [
    "fig1_gallery",
    "fig2_predicted_vs_true",
    "fig3_resolution",
    "fig4_mass",
    "fig_mmr",
    "fig_diagnostic",
    "workflow",
]


def config(*files, **overrides):
    merged = {}
    for name in files:
        update_config(merged, yaml.safe_load((REPO / "config" / name).read_text()))
    update_config(merged, overrides)
    merged.setdefault("bundle", {"source": None})
    return merged


def render(name: str, cfg: dict) -> str:
    """The caption as Snakemake's report renders it (Jinja2 with ``snakemake.config``)."""
    template = jinja2.Template((REPO / "report" / f"{name}.rst").read_text())
    snakemake = SimpleNamespace(config=cfg, params=SimpleNamespace(seed=0, mmr=cfg["mmr"]))
    return " ".join(template.render(snakemake=snakemake).split())


@pytest.mark.parametrize("name", CAPTIONS)
def test_paper_config_says_one_model_and_the_authors_tta(name):
    text = render(name, config("config.yaml"))
    assert "the fold-0 model alone" in text and "4 randomly augmented copies" in text
    assert "fold-ensemble" not in text and "dihedral" not in text
    if name != "workflow":  # the introduction names the ensemble among the summary's rows
        assert "fold ensemble" not in text


@pytest.mark.parametrize("name", CAPTIONS)
def test_demo_config_says_one_model_and_the_flips(name):
    text = render(name, config("config.yaml", "demo.yaml"))
    assert "the fold-0 model alone" in text and "8 flips and rotations" in text


def test_ensemble_without_tta():
    cfg = config("config.yaml", analysis={"predictions": "ensemble"}, predict={"tta": False})
    text = render("fig2_predicted_vs_true", cfg)
    assert "the mean of the 5 fold models" in text and "without test-time augmentation" in text

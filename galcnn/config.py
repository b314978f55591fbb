"""Command-line config values, typed as a config file would type them, and checks the schema cannot make."""

from __future__ import annotations

import math

import yaml

from galcnn import catalog
from galcnn.pipeline.plan import Plan


def yaml_typed(values):
    """Re-read string leaves as YAML scalars.

    Snakemake's ``--config`` parses nested values with YAML's BaseLoader, so
    ``resolutions=[64]`` arrives as ``['64']`` and ``rf={n_estimators: 17}`` as
    ``{'n_estimators': '17'}``; the schema would then reject them as strings.
    """
    if isinstance(values, dict):
        return {k: yaml_typed(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [yaml_typed(v) for v in values]
    if isinstance(values, str) and values:
        try:
            parsed = yaml.safe_load(values)
        except yaml.YAMLError:  # not a YAML scalar ('@weights.pth', 'a: b: c'): a plain string
            return values
        return parsed if isinstance(parsed, (bool, int, float)) or parsed is None else values
    return values


def check_config(config: dict) -> None:
    """What the schema cannot say: bounds compared with each other, keys that must agree
    (:meth:`galcnn.pipeline.plan.Plan.check`), and NaN.

    Raises ``ValueError`` naming the key and the value to change.
    """
    catalog.quality_cuts(config["query"]["cuts"])
    mmr = config["mmr"]
    if not all(math.isfinite(float(mmr[k])) for k in ("mass_min", "mass_max", "step")):
        raise ValueError(f"mmr {mmr} has a bound that is not a finite number")
    if mmr["mass_min"] >= mmr["mass_max"]:
        raise ValueError(
            f"mmr.mass_min ({mmr['mass_min']}) must be below mmr.mass_max ({mmr['mass_max']})"
        )
    Plan(config).check()


def bundle_settings(value) -> dict:
    """Config ``bundle`` as ``{source, include_models, max_unpacked_mb}``: ``--config
    bundle=<path or URL>`` replaces the whole key with a string, which names the bundle to restore."""
    defaults = {"include_models": False, "max_unpacked_mb": None}
    if isinstance(value, str):
        return defaults | {"source": value}
    return defaults | dict(value)

"""Command-line config values, typed as a config file would type them."""

from __future__ import annotations

import yaml


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
        parsed = yaml.safe_load(values)
        return parsed if isinstance(parsed, (bool, int, float)) or parsed is None else values
    return values


def bundle_settings(value) -> dict:
    """Config ``bundle`` as ``{source, include_models}``: ``--config bundle=<path or URL>``
    replaces the whole key with a string, which names the bundle to restore."""
    if isinstance(value, str):
        return {"source": value, "include_models": False}
    return dict(value)

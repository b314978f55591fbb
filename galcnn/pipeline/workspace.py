"""A workspace remembers the run that made its results, and no run silently replaces them.

The first run that executes jobs in a folder records, in ``results/.workspace.json``, the
configuration files it was given and the keys that define its data (survey, catalogue,
cutouts, splits, and whether the results come from a bundle). A later run whose configuration
differs in those keys would plan the whole workflow again over the finished results (the
README's commands without the demo's ``--configfile`` plan SkyServer downloads of the mock's
positions and every training), so it stops before any job is planned, naming the files the
results were made with and the command that continues them, unless ``allow_config_change``
is set. Settings that only add or redo later stages (resolutions, training, figures) are not
part of the identity: the workflow reruns exactly what they change.

A restore (config ``bundle``) writes the bundle's files over the paths of the stages it
replaces, and Snakemake deletes a job's outputs before it runs: :func:`check` refuses a
restore into a folder holding results that an earlier restore did not make.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from galcnn import storage
from galcnn.paths import RESTORE_MARKER, RESULTS, SPLITS, WORKSPACE

#: The default configuration file (Snakefile's ``configfile:``), the run's when none was given.
DEFAULT_CONFIGFILE = "config/config.yaml"
#: Config key that accepts a change of the identity (replacing the results).
ALLOW_KEY = "allow_config_change"
#: Where the results a restore would overwrite live (the stages a bundle replaces, and cutouts).
RESULT_FOLDERS = ("catalog", "cutouts", "images", "models", "predictions", "baselines")
#: How many existing files a message names.
SHOW_FILES = 5


class WorkspaceError(ValueError):
    """A run that would replace this folder's results; the message says how to continue."""


def identity(config: Mapping) -> dict:
    """The keys that define a run's data, as JSON values (``"mock.seed": 2019``, ...)."""
    keys = {
        "survey": config["survey"],
        "query.cuts": config["query"]["cuts"],
        "cutouts.size": config["cutouts"]["size"],
        "cutouts.scale": config["cutouts"]["scale"],
        "cutouts.framing": config["cutouts"]["framing"],
        "cutouts.framing_factor": config["cutouts"]["framing_factor"],
        "seed": config["seed"],
        "folds": config["folds"],
        "test_fraction": config["test_fraction"],
        "test_set": config["test_set"],
        "restored from a bundle": bool(config["bundle"]["source"]),
    }
    if config["survey"] == "mock":
        keys |= {f"mock.{k}": v for k, v in sorted(config["mock"].items())}
    elif config["survey"] == "local":
        keys |= {f"local.{k}": v for k, v in sorted(config["local"].items())}
    else:
        keys |= {
            "sdss.data_release": config["sdss"]["data_release"],
            "cutouts.opt": config["cutouts"]["opt"],
        }
    return json.loads(json.dumps(keys, sort_keys=True))


def configfiles_of(given: Sequence) -> list[str]:
    """The configuration files of a run (the default when none), relative to the working
    directory where they lie below it (Snakemake hands them over as absolute paths)."""
    here = Path.cwd()
    return [
        Path(f).relative_to(here).as_posix() if Path(f).is_relative_to(here) else str(f)
        for f in given
    ] or [DEFAULT_CONFIGFILE]


def recorded(root: str | Path = ".") -> dict | None:
    """The identity recorded in ``root`` (None when no run recorded one)."""
    path = Path(root) / WORKSPACE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        return record if isinstance(record.get("keys"), dict) else None
    except (ValueError, AttributeError):
        return None


def existing_results(root: str | Path = ".") -> Iterator[str]:
    """Result files a restore would put at risk, lazily (a paper run has ~10^5 cutouts)."""
    root = Path(root)
    if (root / SPLITS).is_file():
        yield SPLITS
    for folder in RESULT_FOLDERS:
        base = root / RESULTS / folder
        if base.is_dir():
            for path in base.rglob("*"):
                if path.is_file():
                    yield path.relative_to(root).as_posix()


def run_options(record: Mapping | None) -> list[str]:
    """The command-line options that give the recorded run's configuration."""
    record = record or {}
    words = ["--configfile", *record.get("configfiles", [DEFAULT_CONFIGFILE])]
    if record.get("bundle"):
        words += ["--config", f"bundle={record['bundle']}"]
    return words


def continue_command(record: Mapping) -> str:
    """The command line that continues the recorded run."""
    return shlex.join(["snakemake", *run_options(record)]) + " <targets and options>"


def elsewhere_command(configfiles: Sequence, root: Path, source: str = "") -> str:
    """This run's command for an empty folder (``--directory``): there every relative path is
    read from that folder, so the config files, the default one first, are given absolute."""
    files = [str((root / f).absolute()) for f in configfiles_of([DEFAULT_CONFIGFILE, *configfiles])]
    words = ["snakemake", "--directory", "<empty folder>", "--configfile", *dict.fromkeys(files)]
    if source:
        local = "://" not in source
        words += ["--config", f"bundle={(root / source).absolute() if local else source}"]
    return shlex.join(words)


def check(config: Mapping, configfiles: Sequence, root: str | Path = ".") -> None:
    """Raise :class:`WorkspaceError` when this run would replace the results in ``root``:
    a restore over results not made by a restore, or a configuration whose identity differs
    from the recorded one (unless ``allow_config_change``)."""
    root = Path(root)
    source = config["bundle"]["source"]
    if source and not (root / RESTORE_MARKER).is_file():
        found = []
        for name in existing_results(root):
            found.append(name)
            if len(found) > SHOW_FILES:
                break
        if found:
            shown = ", ".join(found[:SHOW_FILES]) + (", ..." if len(found) > SHOW_FILES else "")
            raise WorkspaceError(
                f"config bundle = {source!r}: this folder already holds results that no restore made "
                f"({shown}). A restore replaces the catalogue, splits, images, models, predictions and "
                "baselines (Snakemake deletes a job's outputs before it runs), so it would delete them. "
                "Restore into a fresh clone of the workflow, or into an empty folder: "
                f"{elsewhere_command(configfiles, root, source)} <targets and options>"
            )
    record = recorded(root)
    # A run that recorded itself but left no results (it failed early) has nothing to protect.
    if record is None or config.get(ALLOW_KEY) or next(existing_results(root), None) is None:
        return
    now = identity(config)
    before = record["keys"]
    differ = [k for k in sorted(set(now) | set(before)) if now.get(k) != before.get(k)]
    if not differ:
        return
    changes = "; ".join(
        f"{k}: {json.dumps(before.get(k))} there, {json.dumps(now.get(k))} here" for k in differ
    )
    made_with = " ".join(record.get("configfiles", [DEFAULT_CONFIGFILE]))
    raise WorkspaceError(
        f"The results in this folder were made with --configfile {made_with} ({WORKSPACE}); this "
        f"run's configuration (--configfile {' '.join(configfiles_of(configfiles))}) differs in the keys "
        f"that define the data ({changes}), so it would plan the workflow again over the finished results. "
        f"To continue them: {continue_command(record)}. "
        f"To replace them with this configuration on purpose: add --config {ALLOW_KEY}=true. "
        "To keep both: run this configuration in a fresh clone, or in an empty folder: "
        f"{elsewhere_command(configfiles, root)} <targets and options>"
    )


def record_run(config: Mapping, configfiles: Sequence, root: str | Path = ".") -> None:
    """Record this run's identity, once: the first run's, or a change the user allowed."""
    root = Path(root)
    if recorded(root) is not None and not config.get(ALLOW_KEY):
        return
    storage.write_json(
        root / WORKSPACE,
        {
            "configfiles": configfiles_of(configfiles),
            "bundle": config["bundle"]["source"] or None,
            "keys": identity(config),
        },
    )


def main(argv: Sequence[str]) -> int:
    """``python -m galcnn.pipeline.workspace options``: the options that give this folder's recorded
    configuration (the paper's when none is recorded), for Makefile targets such as
    ``make report`` that must use the run's configuration."""
    if list(argv) != ["options"]:
        print("usage: python -m galcnn.pipeline.workspace options", file=sys.stderr)
        return 2
    print(shlex.join(run_options(recorded())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A folder remembers the configuration of its results; no run silently replaces them."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from galcnn.config import bundle_settings
from galcnn.paths import RESTORE_MARKER, WORKSPACE
from galcnn.pipeline import workspace

REPO = Path(__file__).resolve().parents[1]


def load(*overlays, **changes):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for overlay in overlays:
        update_config(config, yaml.safe_load((REPO / overlay).read_text()))
    update_config(config, changes)
    config["bundle"] = bundle_settings(config["bundle"])
    return config


def finished(root: Path, config: dict, configfiles=("config/demo.yaml",)) -> Path:
    """A folder with results made by ``config`` (one result file stands for them)."""
    (root / "results" / "catalog").mkdir(parents=True)
    (root / "results" / "catalog" / "galaxies.parquet").write_bytes(b"PAR1")
    workspace.record_run(config, [root / f for f in configfiles], root)
    return root


@pytest.fixture
def demo_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return finished(tmp_path, load("config/demo.yaml"))


def test_the_first_run_records_its_files_and_data_keys(demo_run):
    record = json.loads((demo_run / WORKSPACE).read_text())
    assert record["configfiles"] == ["config/demo.yaml"]
    assert (
        record["keys"]["survey"] == "mock"
        and record["keys"]["mock.n_galaxies"] == load("config/demo.yaml")["mock"]["n_galaxies"]
    )
    workspace.check(load("config/demo.yaml"), [demo_run / "config/demo.yaml"], demo_run)


def test_the_paper_config_over_the_demo_stops_saying_how_to_continue(demo_run):
    with pytest.raises(workspace.WorkspaceError) as err:
        workspace.check(load(), [], demo_run)
    message = str(err.value)
    assert "made with --configfile config/demo.yaml" in message
    assert 'survey: "mock" there, "sdss" here' in message
    assert (
        "To continue them: snakemake --configfile config/demo.yaml <targets and options>" in message
    )
    assert "--config allow_config_change=true" in message


@pytest.mark.parametrize(
    "change",
    [{"mock": {"seed": 1}}, {"folds": 3}, {"cutouts": {"size": 64}}, {"seed": 7}],
)
def test_a_change_of_a_data_key_stops(demo_run, change):
    with pytest.raises(workspace.WorkspaceError, match="differs in the keys that define the data"):
        workspace.check(load("config/demo.yaml", **change), [], demo_run)


@pytest.mark.parametrize(
    "change",
    [
        {"resolutions": [32, 16, 8, 1]},
        {"train": {"stage1": {"lr": 0.05}}},
        {"rf": {"n_estimators": 3}},
    ],
)
def test_settings_that_extend_or_redo_later_stages_go_on(demo_run, change):
    workspace.check(load("config/demo.yaml", **change), [], demo_run)


def test_an_allowed_change_goes_on_and_is_recorded(demo_run):
    paper = load(allow_config_change=True)
    workspace.check(paper, [], demo_run)
    workspace.record_run(paper, [], demo_run)
    assert json.loads((demo_run / WORKSPACE).read_text())["configfiles"] == ["config/config.yaml"]
    workspace.check(load(), [], demo_run)


def test_a_record_without_results_protects_nothing(tmp_path):
    workspace.record_run(load("config/demo.yaml"), [], tmp_path)
    workspace.check(load(), [], tmp_path)


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "results").rglob("*"))
        if p.is_file()
    }


def test_a_restore_over_results_no_restore_made_is_refused(demo_run):
    before = digests(demo_run)
    restore = load("config/demo.yaml", bundle="galcnn-results-0123456789ab.tar.gz")
    with pytest.raises(workspace.WorkspaceError) as err:
        workspace.check(restore, [demo_run / "config/demo.yaml"], demo_run)
    message = str(err.value)
    assert (
        "already holds results that no restore made (results/catalog/galaxies.parquet)" in message
    )
    assert (
        f"snakemake --directory '<empty folder>' --configfile {demo_run}/config/config.yaml "
        f"{demo_run}/config/demo.yaml --config bundle={demo_run}/galcnn-results-0123456789ab.tar.gz"
    ) in message
    assert digests(demo_run) == before


def test_a_restore_into_an_earlier_restore_or_an_empty_folder_goes_on(tmp_path):
    restore = load("config/demo.yaml", bundle="b.tar.gz")
    workspace.check(restore, [], tmp_path)
    finished(tmp_path, restore)
    (tmp_path / RESTORE_MARKER).write_text("{}")
    workspace.check(restore, [], tmp_path)
    # the restored folder is a restore's: running the whole workflow there needs the flag
    with pytest.raises(workspace.WorkspaceError, match="--config bundle=b.tar.gz <targets"):
        workspace.check(load("config/demo.yaml"), [], tmp_path)


def test_make_targets_read_the_recorded_options(demo_run, capsys, tmp_path, monkeypatch):
    assert workspace.main(["options"]) == 0
    assert capsys.readouterr().out.strip() == "--configfile config/demo.yaml"
    restored = tmp_path / "restored"
    restored.mkdir()
    monkeypatch.chdir(restored)
    workspace.record_run(load(bundle="/data/b.tar.gz"), [], restored)
    workspace.main(["options"])
    assert (
        capsys.readouterr().out.strip()
        == "--configfile config/config.yaml --config bundle=/data/b.tar.gz"
    )


# ---- end to end: mistaken commands against the finished tiny run --------------------------------

#: What a finished run must keep byte for byte whatever is asked of it by mistake.
PROTECTED = ("catalog", "images", "splits.parquet", "models", "predictions", "baselines")


def protected_digests(run: Path) -> dict[str, str]:
    out = {}
    for name in PROTECTED:
        base = run / "results" / name
        for p in sorted([base] if base.is_file() else base.rglob("*")):
            if p.is_file():
                out[p.relative_to(run).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.e2e
def test_without_its_config_a_finished_run_plans_nothing_and_says_how_to_continue(
    tiny_run, tmp_path
):
    from conftest import copy_finished, snakemake

    run = copy_finished(tiny_run, tmp_path / "wf")
    assert json.loads((run / WORKSPACE).read_text())["configfiles"] == ["tests/config/tiny.yaml"]
    proc = snakemake(run, "-n", "figures", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "To continue them: snakemake --configfile tests/config/tiny.yaml" in out
    assert 'survey: "mock" there, "sdss" here' in out
    for job in ("query_", "cutouts_download", "train_cnn", "Job stats"):
        assert job not in out


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args, message",
    [
        (("-n", "figures"), "To continue them: snakemake --configfile tests/config/tiny.yaml"),
        (("--configfile", "tests/config/tiny.yaml", "--config", "survey=sdss"), "survey"),
        (
            ("--configfile", "tests/config/tiny.yaml", "--config", "bundle=other.tar.gz"),
            "already holds results that no restore made",
        ),
        (
            ("--configfile", "tests/config/tiny.yaml", "--config", "bundle=results"),
            "already holds results that no restore made",
        ),
        (
            (
                "apply",
                "--configfile",
                "tests/config/tiny.yaml",
                "--config",
                "apply={catalog: one.csv, name: ..}",
            ),
            "does not match",
        ),
        (
            (
                "apply",
                "--configfile",
                "tests/config/tiny.yaml",
                "--config",
                "apply={catalog: ...csv}",
            ),
            "'..' is not a plain name",
        ),
    ],
)
def test_mistaken_commands_leave_the_results_byte_identical(tiny_run, tmp_path, args, message):
    from conftest import copy_finished, snakemake

    run = copy_finished(tiny_run, tmp_path / "wf")
    (run / "one.csv").write_text("ra,dec\n10.0,5.0\n")
    (run / "...csv").write_text("ra,dec\n10.0,5.0\n")
    before = protected_digests(run)
    proc = snakemake(run, "--cores", "1", *args, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-3000:]
    assert protected_digests(run) == before

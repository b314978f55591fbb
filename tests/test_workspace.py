"""A folder remembers the configuration of its results; no run silently replaces them."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from galcnn import workspace
from galcnn.config import bundle_settings
from galcnn.paths import RESTORE_MARKER, WORKSPACE

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
    assert record["keys"]["survey"] == "mock" and record["keys"]["mock.n_galaxies"] == 6500
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
        "snakemake --directory <empty folder> --config bundle=galcnn-results-0123456789ab.tar.gz"
        in message
    )
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


def test_make_targets_read_the_recorded_config_files(demo_run, capsys):
    assert workspace.main(["configfiles"]) == 0
    assert capsys.readouterr().out.strip() == "config/demo.yaml"

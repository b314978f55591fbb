"""galcnn.pipeline.imports: the static import closure of a workflow script and the digest of the package
code it runs (the `code` param that reruns a rule when its modules change)."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from conftest import REPO

from galcnn.pipeline.imports import add_code_digests, code_digest, import_closure, third_party

SCRIPTS = REPO / "workflow" / "scripts"


def test_training_reaches_scipy_through_the_image_modules():
    closure = import_closure(SCRIPTS / "train_cnn.py")
    assert {"galcnn", "galcnn.cnn", "galcnn.cnn.train", "galcnn.storage"} <= closure
    assert {"torch", "scipy"} <= third_party(closure)
    assert "galcnn.sdss.web" not in closure


def test_lazy_imports_count_only_for_the_functions_a_script_calls():
    # fetch_reference imports the download stack inside the function; splits calls another
    # function of the same module and must not need requests.
    assert "requests" in third_party(import_closure(SCRIPTS / "reference_fetch.py"))
    assert "galcnn.reference" in import_closure(SCRIPTS / "splits.py")
    assert "requests" not in third_party(import_closure(SCRIPTS / "splits.py"))
    # query_partition calls run_query, which imports astroquery.
    assert "astroquery" in third_party(import_closure(SCRIPTS / "catalog_query.py"))


def test_galcnn_load_does_not_pull_torch_into_every_rule():
    assert "torch" not in third_party(import_closure(SCRIPTS / "figure_fig_mmr.py"))


def test_standard_library_is_not_third_party():
    assert third_party({"json", "os.path", "numpy.linalg", "galcnn.storage"}) == {"numpy"}


@pytest.fixture
def package(tmp_path):
    """A copy of the package and two scripts, to edit."""
    shutil.copytree(
        REPO / "galcnn", tmp_path / "galcnn", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("figure_fig_mmr.py", "figure_fig2_predicted_vs_true.py"):
        shutil.copy(SCRIPTS / name, tmp_path / name)
    return tmp_path


def digests(root):
    return {
        name: code_digest(root / f"{name}.py", root)
        for name in ("figure_fig_mmr", "figure_fig2_predicted_vs_true")
    }


def test_an_edit_changes_the_digest_of_the_scripts_that_reach_the_module(package):
    before = digests(package)
    module = package / "galcnn" / "figures" / "fig_mmr.py"
    module.write_text(module.read_text() + "\nLABEL_PAD = 4\n")
    after = digests(package)
    assert after["figure_fig_mmr"] != before["figure_fig_mmr"]
    assert after["figure_fig2_predicted_vs_true"] == before["figure_fig2_predicted_vs_true"]


def test_a_shared_module_changes_every_digest(package):
    before = digests(package)
    module = package / "galcnn" / "storage.py"
    module.write_text(module.read_text() + "\nBLOCK = 1 << 20\n")
    after = digests(package)
    assert all(after[k] != before[k] for k in before)


def test_comments_and_formatting_leave_the_digest(package):
    before = digests(package)
    module = package / "galcnn" / "figures" / "fig_mmr.py"
    module.write_text(
        "# Fig. MMR of the paper.\n" + module.read_text().replace("\n\n\n", "\n\n\n\n")
    )
    assert digests(package) == before


def test_a_missing_module_is_named(package):
    script = package / "broken.py"
    script.write_text("from galcnn.nowhere import thing\n")
    with pytest.raises(ImportError, match="galcnn.nowhere"):
        import_closure(script, package)


class Rule(SimpleNamespace):
    def set_params(self, **params):
        self.added = params


def test_add_code_digests_resolves_the_script_from_the_rule_params(package):
    basedir = SimpleNamespace(get_path_or_uri=lambda secret_free: str(REPO / "rules"))
    figure = Rule(
        script="../workflow/scripts/figure_{params.figure}.py",
        params=SimpleNamespace(figure="fig_mmr"),
        basedir=basedir,
    )
    target = Rule(script=None, params=SimpleNamespace(), basedir=basedir)
    add_code_digests([figure, target])
    assert figure.added == {"code": code_digest(SCRIPTS / "figure_fig_mmr.py")}
    assert not hasattr(target, "added")

"""One rule for every name that becomes a file or folder name."""

import pytest

from galcnn.names import safe_name, safe_relative_path


@pytest.mark.parametrize("name", ["galaxies", "new_galaxies.v2", "a-b", "A1", "x" * 200, "_x"])
def test_plain_names_pass(name):
    assert safe_name(name, "key") == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "...",
        ".hidden",
        "a/b",
        "a\\b",
        "a b",
        "$(touch x)",
        "a;b",
        "a.",
        "x" * 201,
        5,
    ],
)
def test_other_names_are_refused_naming_the_key_and_value(name):
    with pytest.raises(ValueError, match="is not a plain name") as err:
        safe_name(name, "config apply.name")
    assert str(err.value).startswith(f"config apply.name = {name!r}")


@pytest.mark.parametrize(
    "path", ["../x", "/abs/x", "results/../x", "results//x", "results/./x", "results/x/", ""]
)
def test_relative_paths_are_plain_names_joined_by_slashes(path):
    with pytest.raises(ValueError, match="is not a plain relative path"):
        safe_relative_path(path, "bundle member")
    assert safe_relative_path("results/models/oh_p50/gri/32px/fold0/config.json", "m")

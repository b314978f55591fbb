"""What a workflow script imports, followed through the package: the third-party packages its
conda environment must hold, and a digest of the package code it runs.

Snakemake reruns a job when its script in ``workflow/scripts/`` changes, not when the ``galcnn``
module doing the work does. :func:`add_code_digests` gives every script rule a ``code`` param, the
digest of the package modules its script reaches, so an edit to a module reruns exactly the rules
whose scripts import it (params are one of Snakemake's rerun triggers). ``tests/test_envs.py``
checks each rule's ``conda:`` environment against :func:`third_party` of the same closure.

The closure is static (``ast``, nothing is imported): every ``import`` of the script and,
transitively, the module-level imports of the package modules it reaches. An import inside a
function runs only when the function does: the package uses that to keep a dependency out of the
environments of rules that never call it (``galcnn.reference`` imports the download stack only in
``fetch_reference``). Such lazy imports count in the package functions the script names
(``from galcnn.x import f``, or ``x.f``) and in the functions of the same module they call, and
nowhere else: ``galcnn.load``'s torch serves users of exported models, not the scripts, and the
splits, which read references, need no download stack.
"""

from __future__ import annotations

import ast
import hashlib
import string
import sys
from functools import cache
from pathlib import Path

PACKAGE = "galcnn"
#: The folder holding the package (the repository root).
ROOT = Path(__file__).resolve().parents[2]


def _module_file(name: str, root: Path = ROOT) -> Path | None:
    """galcnn.x.y -> galcnn/x/y.py or galcnn/x/y/__init__.py under ``root`` (None if it is not a module)."""
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _parents(name: str) -> list[str]:
    """galcnn.x.y -> [galcnn, galcnn.x, galcnn.x.y]: importing a module runs its packages first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _names(node) -> set[str]:
    """The absolute module names one import statement imports."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        raise ValueError(f"relative import of {node.module!r}: the package imports absolutely")
    return set() if node.module == "__future__" else {node.module}


def _parse(path: Path) -> ast.Module:
    # Cached by content, not path: a file edited while the process runs is read again.
    return _parse_source(path.read_text(), str(path))


@cache
def _parse_source(source: str, filename: str) -> ast.Module:
    return ast.parse(source, filename=filename)


def _file_imports(path: Path, root: Path) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """(module-level imports, {top-level function: the imports inside it and inside the module's
    functions it calls}) of one file."""
    return _imports_of(_parse(path), root)


@cache
def _imports_of(tree: ast.Module, root: Path) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    eager: set[str] = set()
    own: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for top in tree.body:
        found = {
            name
            for node in ast.walk(top)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for name in _names(node) | _submodules(node, root)
        }
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
            own[top.name] = found
            calls[top.name] = {n.id for n in ast.walk(top) if isinstance(n, ast.Name)}
        else:
            # Module-level code runs on import; a class's methods whenever the class is used.
            eager |= found
    lazy = {}
    for function in own:
        reached, todo = set(), [function]
        while todo:
            f = todo.pop()
            if f not in reached:
                reached.add(f)
                todo += [g for g in calls[f] if g in own]
        lazy[function] = frozenset().union(*(own[f] for f in reached))
    return frozenset(eager), lazy


def _submodules(node, root: Path) -> set[str]:
    """`from galcnn import storage` imports the module galcnn.storage too."""
    if not isinstance(node, ast.ImportFrom) or (node.module or "").split(".")[0] != PACKAGE:
        return set()
    return {
        f"{node.module}.{a.name}"
        for a in node.names
        if _module_file(f"{node.module}.{a.name}", root)
    }


def _called(script: Path, root: Path) -> set[tuple[str, str]]:
    """(module, function) of the package functions the script names: ``from galcnn.x import f``
    and ``x.f`` after ``from galcnn import x``."""
    tree = _parse(script)
    called, aliases = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE:
            for a in node.names:
                module = f"{node.module}.{a.name}"
                if _module_file(module, root):
                    aliases[a.asname or a.name] = module
                else:
                    called.add((node.module, a.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                called.add((aliases[node.value.id], node.attr))
    return called


def import_closure(script: str | Path, root: Path = ROOT) -> set[str]:
    """Every module name ``script`` imports, directly or through the modules of the package
    in ``root``."""
    script = Path(script).resolve()
    eager, _ = _file_imports(script, root)
    todo = set(eager)
    for module, function in _called(script, root):
        if found := _module_file(module, root):  # a missing module is named below
            todo |= _file_imports(found, root)[1].get(function, frozenset())
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        for module in _parents(name) if name.split(".")[0] == PACKAGE else [name]:
            if module in seen:
                continue
            seen.add(module)
            if module.split(".")[0] == PACKAGE:
                found = _module_file(module, root)
                if found is None:
                    raise ImportError(
                        f"{script} reaches {module}, which is not in {root / PACKAGE}"
                    )
                todo |= _file_imports(found, root)[0]
    return seen


def third_party(modules) -> set[str]:
    """The top-level names of the modules that come neither from Python nor from the package."""
    tops = {m.split(".")[0] for m in modules}
    return {t for t in tops if t != PACKAGE and t not in sys.stdlib_module_names}


def package_files(modules, root: Path = ROOT) -> list[Path]:
    """The package's source files among ``modules``, sorted."""
    return sorted(_module_file(m, root) for m in modules if m.split(".")[0] == PACKAGE)


def code_digest(script: str | Path, root: Path = ROOT) -> str:
    """sha256 (16 hex digits) of the package modules ``script`` reaches. Each module counts by its
    syntax tree, so a comment or a reformatting changes nothing, while any change in the code does."""
    digest = hashlib.sha256()
    for path in package_files(import_closure(script, root), root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(ast.dump(_parse(path)).encode() + b"\0")
    return digest.hexdigest()[:16]


def rule_script(rule) -> Path | None:
    """The script file a Snakemake rule runs (None for shell, run: or target rules). A script path
    may name the rule's own params (``figure_{params.figure}.py``): they are static where used."""
    if not rule.script:
        return None
    fields = {f for _, f, _, _ in string.Formatter().parse(rule.script) if f}
    script = rule.script.format(params=rule.params) if fields else rule.script
    return Path(rule.basedir.get_path_or_uri(secret_free=True), script)


def add_code_digests(rules) -> None:
    """Give every script rule a ``code`` param: :func:`code_digest` of its script."""
    for rule in rules:
        script = rule_script(rule)
        if script is not None:
            rule.set_params(code=code_digest(script))

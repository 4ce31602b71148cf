"""Shared fixtures: one SynthShop smoke data set and one CI-mode run of the notebooks per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthshop_smoke(tmp_path_factory) -> Path:
    """Root of a SynthShop `smoke` data set (seed 0), generated once per session. Treat it as read-only:
    copy it (shutil.copytree) before changing any file."""
    from gcl_nb.data.synthshop import make_synthshop

    return make_synthshop(tmp_path_factory.mktemp("synthshop") / "smoke", preset="smoke", seed=0)


@pytest.fixture(scope="session")
def smoke_notebooks(tmp_path_factory) -> list[Path]:
    """The four workbench notebooks executed once per session in CI mode (smoke data and training) into
    one run directory, each with its HTML export; returns the executed notebook paths. Read-only."""
    from gcl_nb.workbench.notebooks import run_notebooks

    return run_notebooks(tmp_path_factory.mktemp("notebooks") / "run", preset="smoke", ci=True)

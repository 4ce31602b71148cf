"""Shared fixtures: one SynthShop smoke data set per test session."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthshop_smoke(tmp_path_factory) -> Path:
    """Root of a SynthShop `smoke` data set (seed 0), generated once per session. Treat it as read-only:
    copy it (shutil.copytree) before changing any file."""
    from gcl_nb.data.synthshop import make_synthshop

    return make_synthshop(tmp_path_factory.mktemp("synthshop") / "smoke", preset="smoke", seed=0)

"""Files written atomically: to a temporary file in the target's folder, then renamed over the target, so a
crash or an interrupt leaves the previous file (or none), never a half-written one.

Used for what is read back later: checkpoints and their config.json (gcl_nb.models.checkpoint), the resume
state and summary of a run directory (gcl_nb.training), an experiment's tables, run log and settings
(gcl_nb.workbench.experiment). Here, at the bottom layer, so every layer above may use it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pandas as pd
import torch


def _atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Create `path`'s folder, call `write` on a binary temporary file beside `path`, rename it to `path`;
    on any error (KeyboardInterrupt included) the temporary file is removed and `path` is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save to `path` through a temporary file and a rename (never a half-written file)."""
    _atomic_write(Path(path), lambda f: torch.save(obj, f))


def atomic_write_json(obj: Any, path: str | Path) -> None:
    """json.dump (indented) to `path` through a temporary file and a rename."""
    atomic_write_text(json.dumps(obj, indent=2, default=str), path)


def atomic_write_text(text: str, path: str | Path) -> None:
    """`text` (UTF-8) to `path` through a temporary file and a rename."""
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def atomic_write_csv(table: pd.DataFrame, path: str | Path) -> None:
    """`table` as CSV (no index) to `path` through a temporary file and a rename."""
    _atomic_write(Path(path), lambda f: table.to_csv(f, index=False))

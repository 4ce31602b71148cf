"""Files written atomically: to a temporary file in the target's folder, then renamed over the target, so a
crash or an interrupt leaves the previous file (or none), never a half-written one. Folders written whole: into
a hidden partial sibling, renamed once complete (`folder_written_whole`); a reader meeting the partial folder of
an interrupted writer says so (`check_not_partial`).

Used for what is read back later: checkpoints and their config.json (gcl_nb.models.checkpoint), the resume
state and summary of a run directory (gcl_nb.training), an experiment's tables, run log and settings
(gcl_nb.workbench.experiment). Here, at the bottom layer, so every layer above may use it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pandas as pd
import torch

from gcl_nb.data.schema import DataError

#: the file of a partial folder naming the command that writes it (removed once the folder is complete)
WRITER_FILE = ".written_by"


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


def partial_folder(root: str | Path) -> Path:
    """The hidden sibling `.<name>.partial` that the folder `root` is written into before it becomes `root`."""
    root = Path(root)
    return root.parent / f".{root.name}.partial"


@contextmanager
def folder_written_whole(root: str | Path, writer: str) -> Iterator[Path]:
    """Write the folder `root` whole or not at all: yield an empty partial folder (`partial_folder(root)`; one left
    by an interrupted run is started afresh) for the block to fill, then rename it to `root`, replacing whatever the
    caller let stand there. `writer`, the command that makes the folder (e.g. "gcl-nb prepare"), is recorded in the
    partial folder so that a reader meeting it names the command (`check_not_partial`). An error in the block
    removes the partial folder; an interrupt (Ctrl-C, a kill) leaves it, recognisably incomplete."""
    root, partial = Path(root), partial_folder(root)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / WRITER_FILE).write_text(writer, encoding="utf-8")
    try:
        yield partial
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / WRITER_FILE).unlink()
    if root.exists():
        shutil.rmtree(root)
    partial.rename(root)


def check_not_partial(root: str | Path) -> None:
    """DataError when `root` is missing or empty and an interrupted writer's partial folder lies beside it, naming
    the partial folder and the command to run again."""
    root, partial = Path(root), partial_folder(root)
    if partial.is_dir() and not (root.is_dir() and any(root.iterdir())):
        marker = partial / WRITER_FILE
        writer = marker.read_text(encoding="utf-8").strip() if marker.is_file() else "the command that writes it"
        raise DataError(
            f"{root}: incomplete: {writer} was interrupted while writing it (what it wrote is in {partial}, which "
            f"becomes {root} once complete); run {writer} again"
        )

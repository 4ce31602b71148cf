"""The run directory `train()` writes: its file names and readers.

`checkpoint.pt` and `config.json` are the checkpoint's (gcl_nb.models.checkpoint: CHECKPOINT_NAME, CONFIG_NAME,
read_config); training adds `train_state.pt` (resume), `history.jsonl` (one record per step) and `summary.json`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

STATE_NAME, HISTORY_NAME, SUMMARY_NAME = "train_state.pt", "history.jsonl", "summary.json"


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """`<run_dir>/history.jsonl` as a DataFrame (ValueError naming the file when absent or empty)."""
    path = Path(run_dir) / HISTORY_NAME
    if not path.is_file():
        raise ValueError(f"{path}: no training history; train into {run_dir} first")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path}: empty training history")
    return pd.DataFrame(rows)


def read_summary(run_dir: str | Path) -> dict:
    """`<run_dir>/summary.json`: steps, wall time, pairs/s, first and final loss, ... of a finished run."""
    return json.loads((Path(run_dir) / SUMMARY_NAME).read_text())

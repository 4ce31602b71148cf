"""The run directory `train()` writes: its file names, the history and summary writers, and the readers.

`checkpoint.pt` and `config.json` are the checkpoint's (gcl_nb.models.checkpoint: CHECKPOINT_NAME, CONFIG_NAME,
read_config); training adds `train_state.pt` (resume), `history.jsonl` (one record per step) and `summary.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from gcl_nb.data.atomic_files import atomic_write_json, atomic_write_text
from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.models.checkpoint import CONFIG_NAME, SUMMARY_NAME, read_config

STATE_NAME, HISTORY_NAME = "train_state.pt", "history.jsonl"


def start_history(run_dir: str | Path, keep_before: int | None = None) -> Path:
    """`<run_dir>/history.jsonl` holding only the records of steps below `keep_before` (a resumed run keeps the
    history of the steps its weights have seen; None: a fresh, empty history); returns its path."""
    path = Path(run_dir) / HISTORY_NAME
    kept = [r for r in history_records(path) if r["step"] < keep_before] if keep_before is not None else []
    atomic_write_text("".join(json.dumps(r) + "\n" for r in kept), path)
    return path


def history_records(path: Path) -> list[dict]:
    """The records of a history.jsonl ([] when there is none). A last line cut short (the process killed while
    appending it) is left out; an unreadable line before it is a DataError naming the file and line."""
    lines = [line for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise DataError(f"{path}, line {number}: not a JSON record; start a fresh run") from None
    return records


def write_summary(run_dir: str | Path, **facts) -> dict:
    """`<run_dir>/summary.json`: `facts` (steps, device, wall_s, ...) plus what the history says (median pairs/s,
    first loss, mean loss of the last 10% of steps); returns it."""
    records = history_records(Path(run_dir) / HISTORY_NAME)
    tail = records[-max(1, len(records) // 10) :]
    summary = {
        **facts,
        "pairs_per_s": float(np.median([r["pairs_per_s"] for r in records])) if records else None,
        "first_loss": records[0]["loss"] if records else None,
        "final_loss_mean_last_10pct": float(np.mean([r["loss"] for r in tail])) if records else None,
    }
    atomic_write_json(summary, Path(run_dir) / SUMMARY_NAME)
    return summary


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """`<run_dir>/history.jsonl` as a DataFrame (ValueError naming the file when absent or empty)."""
    path = Path(run_dir) / HISTORY_NAME
    if not path.is_file():
        raise ValueError(f"{path}: no training history; train into {run_dir} first")
    rows = history_records(path)
    if not rows:
        raise ValueError(f"{path}: empty training history")
    return pd.DataFrame(rows)


def read_summary(run_dir: str | Path) -> dict:
    """`<run_dir>/summary.json`: steps, wall time, pairs/s, first and final loss, ... of a finished run."""
    return json.loads((Path(run_dir) / SUMMARY_NAME).read_text())


#: TrainConfig fields a resumed run may change without notice, and those it may change with a record in config.json
#: (how it runs, not what it trains; `steps` may grow, not fall below the checkpoint's step)
RESUME_IGNORED = ("out", "resume", "progress")
RESUME_RECORDED = ("preset", "checkpoint_every", "num_workers", "device", "steps", "model_cache_dir", "micro_batch")


def _comparable(settings: dict) -> dict:
    """TrainConfig.to_dict() values as config.json holds them, with the data folder and image root resolved (one
    folder, however it is written)."""
    out = json.loads(json.dumps(settings, default=str))
    out["data"] = str(Path(out["data"]).resolve())
    image_root = (out.get("data_options") or {}).get("image_root")
    if image_root is not None:
        out["data_options"]["image_root"] = str(Path(image_root).resolve())
    return out


def resume_changes(config, run_dir: str | Path, checkpoint_step: int) -> dict:
    """What resuming `run_dir` with `config` changes: {setting: [saved, requested]} of the RESUME_RECORDED fields
    that differ. SettingError naming every differing setting outside RESUME_IGNORED and RESUME_RECORDED (a setting
    the saved run predates is compared with its default), and for `steps` below the checkpoint's step."""
    saved_config = read_config(run_dir)
    if "train" not in saved_config:
        raise DataError(
            f"{Path(run_dir) / CONFIG_NAME} has no training settings: it was not written by train(); "
            "start a fresh run in another directory"
        )
    requested = _comparable(config.to_dict())
    saved = _comparable({**type(config)().to_dict(), **saved_config["train"]})
    differing = {
        name: [saved[name], value]
        for name, value in requested.items()
        if saved.get(name) != value and name not in RESUME_IGNORED
    }
    refused = {name: pair for name, pair in differing.items() if name not in RESUME_RECORDED}
    if refused:
        listed = "; ".join(f"{name}: saved {old!r}, requested {new!r}" for name, (old, new) in refused.items())
        raise SettingError(
            f"resume: {run_dir} was trained with other settings ({listed}); resume with its settings "
            "(config.json) or train into another out directory"
        )
    if config.steps < checkpoint_step:
        raise SettingError(
            f"resume: steps={config.steps} is below the checkpoint's step {checkpoint_step} in "
            f"{run_dir}; resume with steps >= {checkpoint_step}"
        )
    return differing

"""What an experiment keeps in its `out` folder: the tables, the run log and the settings, by name, with
their readers and writers.

`results.csv` (RESULT_COLUMNS: one row per method, seed and split), `per_query.csv` (one row per method, seed,
split and query), `runs.jsonl` (the run log: one line per finished run: method, seed, run_dir (None when
untrained), seconds) and `experiment.json` (the ExperimentConfig the tables were made with).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd

from gcl_nb.data.atomic_files import atomic_write_csv, atomic_write_text
from gcl_nb.metrics import METRIC_COLUMNS

RESULTS_NAME, PER_QUERY_NAME, RUN_LOG_NAME, SETTINGS_NAME = (
    "results.csv",
    "per_query.csv",
    "runs.jsonl",
    "experiment.json",
)
RESULT_COLUMNS = ("method", "seed", "split", *METRIC_COLUMNS, "n_queries", "corpus", "n_docs")
RUN_LOG_COLUMNS = ("method", "seed", "run_dir", "seconds")


def read_table(path: Path) -> pd.DataFrame:
    """A results / per-query CSV (ids as strings), or an empty results table with RESULT_COLUMNS."""
    if path.exists():
        return pd.read_csv(path, dtype={"query_id": str, "split": str, "method": str})
    return pd.DataFrame(
        {c: pd.Series(dtype=str if c in ("method", "split", "corpus") else float) for c in RESULT_COLUMNS}
    )


def record_run(out: Path, results: pd.DataFrame, per_query: pd.DataFrame) -> None:
    """Add one finished (method, seed) run's rows to `out/per_query.csv`, then to `out/results.csv`.

    Each file is rewritten atomically (gcl_nb.data.atomic_files), so an interrupt leaves the previous table, never
    a torn row; results.csv goes last because a run counts as done once its rows are there (resume). Rows of the
    same (method, seed) already in per_query.csv, left by a run interrupted before its results were written, are
    replaced, not duplicated."""
    ((method, seed),) = results[["method", "seed"]].drop_duplicates().itertuples(index=False, name=None)
    for name, rows in ((PER_QUERY_NAME, per_query), (RESULTS_NAME, results)):
        kept = read_table(out / name) if (out / name).exists() else rows.iloc[:0]
        kept = kept[~((kept["method"] == method) & (kept["seed"] == seed))]
        atomic_write_csv(pd.concat([kept, rows], ignore_index=True) if len(kept) else rows, out / name)


def log_run(out: Path, method: str, seed: int, run_dir: Optional[Path], seconds: float) -> None:
    """Add one finished run to `out/runs.jsonl` (rewritten atomically), its run directory made absolute: the log
    means the same from any working directory (the notebooks read it from the run directory they run in)."""
    run_dir = str(Path(run_dir).resolve()) if run_dir else None
    entry = {"method": method, "seed": seed, "run_dir": run_dir, "seconds": round(seconds, 1)}
    path = out / RUN_LOG_NAME
    atomic_write_text((path.read_text() if path.exists() else "") + json.dumps(entry) + "\n", path)


def read_run_log(out: str | Path) -> pd.DataFrame:
    """`out/runs.jsonl` as a table (RUN_LOG_COLUMNS, in logging order; run_dir None for untrained methods).
    FileNotFoundError when the experiment has logged nothing."""
    lines = (Path(out) / RUN_LOG_NAME).read_text().splitlines()
    return pd.DataFrame([json.loads(line) for line in lines if line.strip()], columns=list(RUN_LOG_COLUMNS))

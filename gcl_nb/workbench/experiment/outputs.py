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


def log_run(out: Path, method: str, seed: int, run_dir: Optional[Path], seconds: float) -> None:
    """Append one finished run to `out/runs.jsonl`."""
    with open(out / RUN_LOG_NAME, "a") as f:
        f.write(
            json.dumps(
                {
                    "method": method,
                    "seed": seed,
                    "run_dir": str(run_dir) if run_dir else None,
                    "seconds": round(seconds, 1),
                }
            )
            + "\n"
        )


def read_run_log(out: str | Path) -> pd.DataFrame:
    """`out/runs.jsonl` as a table (RUN_LOG_COLUMNS, in logging order; run_dir None for untrained methods).
    FileNotFoundError when the experiment has logged nothing."""
    lines = (Path(out) / RUN_LOG_NAME).read_text().splitlines()
    return pd.DataFrame([json.loads(line) for line in lines if line.strip()], columns=list(RUN_LOG_COLUMNS))

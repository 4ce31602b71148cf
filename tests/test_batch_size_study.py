"""scripts/batch_size.py: every (method, batch size) sees the same pairs, the report has one row per pair of them
and the gain table, and a batch size outside 2..pairs is refused before any run."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest


def _script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "batch_size.py"
    spec = importlib.util.spec_from_file_location("batch_size", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_study_trains_equal_pairs_and_writes_its_tables(synthshop_smoke, tmp_path):
    script = _script()
    results = tmp_path / "bs"
    common = ["--data", str(synthshop_smoke), "--preset", "smoke", "--seeds", "0", "--out", str(tmp_path / "out")]
    args = [*common, "--methods", "clip", "gcl-linear", "--batch-sizes", "8", "16", "--pairs", "64"]
    assert script.main([*args, "--results", str(results)]) == 0
    table = pd.read_csv(f"{results}.csv")
    assert set(zip(table["method"], table["batch_size"], table["steps"])) == {
        (m, b, 64 // b) for m in ("clip", "gcl-linear") for b in (8, 16)
    }
    for run in (tmp_path / "out").glob("*-b*/*-s0"):
        assert len((run / "history.jsonl").read_text().splitlines()) * int(run.parent.name.split("-b")[1]) == 64
    report = Path(f"{results}.md").read_text()
    assert "python scripts/batch_size.py" in report and "### gain of `gcl-linear` over `clip`" in report
    assert report.count("| `clip` | 8 | 8 |") == 2, "one row per metric table"
    with pytest.raises(SystemExit) as exit_info:
        script.main([*common, "--batch-sizes", "128", "--pairs", "64"])
    assert exit_info.value.code == 2

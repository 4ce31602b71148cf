"""The benchmark harness and `python -m benchmarks --quick` (the code runs and prints the table; targets are
read from the table of a full run, not tested)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import GROUPS
from benchmarks.harness import (
    Report,
    Row,
    Target,
    format_rows,
    interleaved,
    least_squares_line,
    peak_rss_delta,
    render_markdown,
)

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str, timeout: int) -> subprocess.CompletedProcess:
    """`python -m benchmarks --quick --threads 1 ARGS` in a fresh process (threads set there stay there)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--threads", "1", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def test_target_bounds():
    assert Target("<=", 1.05).met(1.05) and not Target("<=", 1.05).met(1.051)
    assert Target(">=", 100).met(100) and not Target(">=", 100).met(99.9)
    assert not Target("<", 1.0).met(1.0)
    assert str(Target(">=", 0.7)) == ">= 0.7x"
    assert Row("g", "b", "w", "m", 2.0, Target("<=", 1.0)).met == "**no**"
    assert Row("g", "b", "w", "m").met == ""


def test_interleaved_alternates_order_and_respects_repeat_bounds():
    calls = []
    t = interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, budget_s=0.0, min_repeats=4, warmup=1
    )
    assert calls == ["a", "b"] + ["a", "b", "b", "a"] * 2
    assert t["a"].repeats == t["b"].repeats == 4
    t = interleaved({"a": lambda: None}, budget_s=1e9, max_repeats=7, warmup=0)
    assert t["a"].repeats == 7


def test_peak_rss_delta_sees_a_numpy_allocation():
    size = 200 * 1024**2
    _, peak = peak_rss_delta(lambda: np.ones(size // 8).sum())  # allocated, touched, freed inside the call
    assert 0.9 * size <= peak <= 1.5 * size
    _, small = peak_rss_delta(lambda: sum(range(1000)))
    assert small < 0.1 * size


def test_least_squares_line():
    intercept, slope = least_squares_line([1, 2, 3], [3, 5, 7])
    assert (intercept, slope) == pytest.approx((1.0, 2.0))
    assert least_squares_line([2, 2], [1, 3]) == (2.0, 0.0)


def test_markdown_table_and_page():
    report = Report()
    report.rows.append(Row("loss", "a | b", "N=1", "1 ms vs 2 ms", 0.5, Target("<=", 1.05)))
    report.note("loss", "note text.")
    table = format_rows(report.rows)
    assert table.splitlines()[0] == "| group | benchmark | workload | measured | ratio | target | met |"
    assert "| loss | a \\| b | N=1 | 1 ms vs 2 ms | 0.5x | <= 1.05x | yes |" in table
    page = render_markdown(report, {"cpu": "X"}, 3.0)
    assert "- cpu: X" in page and table in page and "- **loss**: note text." in page


def test_quick_loss_and_gpu_groups_print_and_write_the_table(tmp_path):
    out = tmp_path / "results.md"
    result = _bench("--only", "loss", "--only", "gpu", "--out", str(out), timeout=120)
    assert "| group | benchmark | workload | measured | ratio | target | met |" in result.stdout
    assert result.stdout.count("| loss | GCLLoss (diagonal) / ClipLoss time | N=") == 2 * 2  # live rows + table
    assert result.stdout.count("| loss | GCLLoss multi-positive (target build included) / ClipLoss time | N=") == 2 * 2
    text = out.read_text()
    assert "| loss | multi-positive target build peak extra memory (RSS) | N=64;" in text
    assert "| loss | multi-positive training table: memory; target build on it | 100,000 pairs" in text
    assert "## Machine" in text and "torch:" in text and "cpu:" in text
    assert ("skipped (no CUDA" in text) != ("ViT-B-32 training throughput GCL / ClipLoss" in text)


def test_quick_prepare_group_times_the_whole_command(tmp_path):
    out = tmp_path / "results.md"
    _bench("--only", "prepare", "--out", str(out), timeout=300)
    assert "| prepare | gcl-nb prepare: wall time and peak memory of the command | 2,000 rows, 200 queries" in (
        out.read_text()
    )


@pytest.mark.slow
def test_quick_run_of_every_group(tmp_path):
    out = tmp_path / "results.md"
    result = _bench("--out", str(out), timeout=600)
    table = out.read_text().split("## Results", 1)[1]
    for group in GROUPS:
        assert f"\n| {group} |" in table, f"group {group} wrote no row:\n{result.stdout[-3000:]}"
    assert "equal values" in table and "same top-k scores" in table


def test_quick_run_without_out_writes_no_results_file():
    results = ROOT / "benchmarks" / "results.md"
    before = results.stat().st_mtime_ns if results.exists() else None
    _bench("--only", "gpu", timeout=120)
    assert (results.stat().st_mtime_ns if results.exists() else None) == before

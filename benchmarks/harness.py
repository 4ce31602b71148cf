"""Shared pieces of the benchmarks: interleaved median timing, peak-RSS deltas, targets, the result table.

Timing: every candidate of a comparison runs once per round, in an order that alternates between rounds, so
load from other processes and thermal drift hit all candidates alike; each reports the median over rounds.
Memory (Linux, glibc): the resident-set high-water mark (VmHWM in /proc/self/status, reset through
/proc/self/clear_refs) minus the RSS before the call. It counts every allocation that touches memory
(torch, numpy, faiss), which tracemalloc would not see.
"""

from __future__ import annotations

import ctypes
import datetime
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable

import psutil
import torch

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Target:
    """A bound on a ratio: `op` is "<=", "<" or ">=", e.g. Target("<=", 1.05) prints as "<= 1.05x"."""

    op: str
    bound: float

    def met(self, ratio: float) -> bool:
        return {"<=": ratio <= self.bound, "<": ratio < self.bound, ">=": ratio >= self.bound}[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}x"


@dataclass
class Row:
    """One line of the result table. `ratio` is what `target` bounds; `measured` holds the raw numbers."""

    group: str
    benchmark: str
    workload: str
    measured: str
    ratio: float | None = None
    target: Target | None = None

    @property
    def met(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        return "yes" if self.target.met(self.ratio) else "**no**"


@dataclass
class Report:
    """Rows and notes collected by the groups of one run."""

    rows: list[Row] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def row(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(format_rows([row], header=False), flush=True)
        return row

    def note(self, group: str, text: str) -> None:
        self.notes.setdefault(group, []).append(text)


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one candidate over `len(times)` rounds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def repeats(self) -> int:
        return len(self.times)


def interleaved(
    candidates: dict[str, Callable[[], object]],
    budget_s: float,
    min_repeats: int = 3,
    max_repeats: int = 50,
    warmup: int = 1,
) -> dict[str, Timing]:
    """Time each zero-argument callable (which must finish its work, e.g. synchronise CUDA, before returning).

    After `warmup` untimed calls each, rounds run every candidate once (order reversed every other round)
    until `budget_s` seconds of rounds are spent, at least `min_repeats` and at most `max_repeats` rounds.
    """
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    spent, rounds = 0.0, 0
    while rounds < max_repeats and (rounds < min_repeats or spent < budget_s):
        for name in names if rounds % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            candidates[name]()
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            spent += elapsed
        rounds += 1
    return {name: Timing(tuple(t)) for name, t in times.items()}


def _proc_status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status: peak memory needs Linux")


def peak_rss_delta(fn: Callable[[], object]) -> tuple[object, int]:
    """(fn(), bytes of resident memory at fn's peak above the resident memory before the call).

    Free heap memory is first handed back to the OS (glibc malloc_trim), so that the measured call cannot
    reuse pages that an earlier call left resident."""
    ctypes.CDLL(None).malloc_trim(0)
    before = _proc_status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current RSS
    result = fn()
    return result, max(0, _proc_status_kib("VmHWM") - before) * 1024


def fmt_time(seconds: float) -> str:
    """Seconds in the unit that reads best (us, ms, s, min, h)."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def fmt_bytes(n: float) -> str:
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def least_squares_line(x: list[float], y: list[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through the points (slope 0 for a single x)."""
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxx = sum((a - mx) ** 2 for a in x)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx if sxx else 0.0
    return my - slope * mx, slope


@lru_cache(maxsize=None)
def synthshop(preset: str, **overrides) -> Path:
    """A SynthShop data set generated once per process into a temporary folder (removed at exit)."""
    from gcl_nb.data import make_synthshop

    folder = tempfile.TemporaryDirectory(prefix=f"bench-synthshop-{preset}-")
    _TEMP_DIRS.append(folder)
    return make_synthshop(Path(folder.name) / "data", preset=preset, **overrides)


_TEMP_DIRS: list[tempfile.TemporaryDirectory] = []


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine() -> dict[str, str]:
    """The facts a reader needs to compare numbers: CPU, cores, RAM, GPU, versions, threads, load."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": f"{_cpu_model()} ({platform.machine()})",
        "cores": f"{cores} usable ({os.cpu_count()} logical)",
        "ram": fmt_bytes(psutil.virtual_memory().total),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(),
        "torch": f"{torch.__version__} (intra-op threads: {torch.get_num_threads()})",
        "packages": ", ".join(
            f"{d} {_version(d)}" for d in ("numpy", "open_clip_torch", "faiss-cpu", "ranx", "pytrec_eval-terrier")
        ),
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks", *sys.argv[1:]]),
    }
    return info


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}x"
    return "" if value is None else str(value).replace("|", "\\|")


COLUMNS = ("group", "benchmark", "workload", "measured", "ratio", "target", "met")


def format_rows(rows: list[Row], header: bool = True) -> str:
    """Markdown table lines of `rows` (with the header row unless header=False)."""
    lines = []
    if header:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = (r.group, r.benchmark, r.workload, r.measured, r.ratio, r.target, r.met)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def render_markdown(report: Report, machine: dict[str, str], wall_s: float) -> str:
    """The results page: machine, table, per-group notes."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks`); every ratio was measured side by side in one "
        "process run. Times are medians over the stated number of rounds (see benchmarks/harness.py).",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += [f"- total wall time: {wall_s:.0f} s", "", "## Results", "", format_rows(report.rows), ""]
    if report.notes:
        lines += ["## Notes", ""]
        for group, notes in report.notes.items():
            lines += [f"- **{group}**: " + " ".join(notes)]
        lines.append("")
    return "\n".join(lines)

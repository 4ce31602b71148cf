"""Prepare: `gcl-nb prepare` on a generated shop log, the whole command's wall time and peak resident memory.

The log (CSV) has `rows` rows: queries with PER_QUERY judged products each, drawn at random from rows / 100
catalogued products, clicks 0..19 (many ties; a few duplicate pairs). The catalogue's products share 16 small
PNG images (each product's image is still checked). `make bench` runs 200,000 rows (--quick: 2,000); the
Marqo-GS-10M size (benchmarks/README.md) is

    python -m benchmarks.prepare --rows 10000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from benchmarks.harness import GiB, Report, fmt_bytes, fmt_time

ROWS, ROWS_QUICK = 200_000, 2_000
PER_QUERY = 10
ROWS_PER_PRODUCT = 100
N_IMAGES = 16
#: the Marqo-GS-10M targets (issue 31): 10M rows in at most 3 minutes and 4 GB
TARGET_ROWS, TARGET_S, TARGET_BYTES = 10_000_000, 180.0, 4e9


def write_shop_log(folder: Path, rows: int, seed: int = 0) -> dict[str, Path]:
    """log.csv (query, product_id, clicks), catalogue.csv (product_id, title, image) and img/ in `folder`."""
    rng = np.random.default_rng(seed)
    n_products = max(PER_QUERY, rows // ROWS_PER_PRODUCT)
    images = folder / "img"
    images.mkdir(parents=True, exist_ok=True)
    for k in range(N_IMAGES):
        Image.new("RGB", (8, 8), (16 * k, 255 - 16 * k, 100)).save(images / f"{k}.png")
    numbers = np.arange(n_products)
    ids = np.char.add("P", np.char.zfill(numbers.astype(str), 7))
    catalogue = pd.DataFrame(
        {
            "product_id": ids,
            "title": np.char.add("product ", numbers.astype(str)),
            "image": np.char.add((numbers % N_IMAGES).astype(str), ".png"),
        }
    )
    catalogue.to_csv(folder / "catalogue.csv", index=False)
    query = np.arange(rows) // PER_QUERY
    log = pd.DataFrame(
        {
            "query": np.char.add("query ", query.astype(str)),
            "product_id": ids[rng.integers(0, n_products, rows)],
            "clicks": rng.integers(0, 20, rows),
        }
    )
    log.to_csv(folder / "log.csv", index=False)
    return {"pairs": folder / "log.csv", "catalogue": folder / "catalogue.csv", "images": images}


def time_prepare(shop: dict[str, Path], out: Path) -> tuple[float, int]:
    """(wall seconds, peak resident bytes) of `python -m gcl_nb prepare` on the shop, in a fresh process."""
    command = [sys.executable, "-m", "gcl_nb", "prepare", "--pairs", str(shop["pairs"])]
    command += ["--catalogue", str(shop["catalogue"]), "--image-root", str(shop["images"])]
    command += ["--score-column", "clicks", "--out", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")
    return wall_s, usage.ru_maxrss * 1024


def measure(rows: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        shop = write_shop_log(Path(tmp) / "shop", rows)
        return time_prepare(shop, Path(tmp) / "prepared")


def run(report: Report, quick: bool) -> None:
    rows = ROWS_QUICK if quick else ROWS
    wall_s, peak = measure(rows)
    report.row(
        "prepare",
        "gcl-nb prepare: wall time and peak memory of the command",
        f"{rows:,} rows, {rows // PER_QUERY:,} queries x {PER_QUERY}, {rows // ROWS_PER_PRODUCT:,} products; "
        f"one run, process start included",
        f"{fmt_time(wall_s)}, peak RSS {fmt_bytes(peak)}",
    )
    report.note(
        "prepare",
        "Small logs understate the 10M-row result (the process start and imports are a fixed ~3 s). The "
        f"10M-row measurement: `python -m benchmarks.prepare --rows {TARGET_ROWS}` (benchmarks/README.md).",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS, help=f"log rows (default {TARGET_ROWS:,})")
    args = parser.parse_args(argv)
    if args.rows < PER_QUERY:
        print(f"--rows {args.rows}: give at least {PER_QUERY}", file=sys.stderr)
        return 2
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    wall_s, peak = measure(args.rows)
    result = (
        f"{args.rows:,} rows: {fmt_time(wall_s)} wall, peak RSS {peak / GiB:.2f} GiB ({peak / 1e9:.2f} GB); "
        f"load average at start {load}, at end {' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.rows == TARGET_ROWS:
        met = wall_s <= TARGET_S and peak <= TARGET_BYTES
        result += f"; targets (<= 3 min, <= 4 GB) {'met' if met else 'not met'}"
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

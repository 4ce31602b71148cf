"""`python -m benchmarks [--quick] [--only NAME ...] [--threads N] [--out FILE]` (`make bench`).

Runs the benchmark groups in one process, prints each table row as it is measured, then the whole table,
and writes it with the machine description to benchmarks/results.md (a --quick run writes only with --out:
its tiny sizes say nothing about speed).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path

import torch

from benchmarks import GROUPS
from benchmarks.harness import Report, describe_machine, format_rows, render_markdown

RESULTS = Path(__file__).parent / "results.md"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds (for the tests)")
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        metavar="NAME",
        help=f"run only this group (repeatable): {', '.join(GROUPS)}",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's own choice)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default benchmarks/results.md; a --quick run writes none unless given)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads {args.threads}: give a positive number")
        torch.set_num_threads(args.threads)
    machine = describe_machine()
    print("\n".join(f"{k}: {v}" for k, v in machine.items()), flush=True)
    report, start = Report(), time.perf_counter()
    for name in [g for g in GROUPS if not args.only or g in args.only]:
        print(f"\n== {name} ==", flush=True)
        importlib.import_module(f"benchmarks.{name}").run(report, quick=args.quick)
    wall_s = time.perf_counter() - start
    machine["load average at end (1/5/15 min)"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print("\n" + format_rows(report.rows))
    out = args.out if args.out is not None or args.quick else RESULTS
    if out is not None:
        out.write_text(render_markdown(report, machine, wall_s))
        print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

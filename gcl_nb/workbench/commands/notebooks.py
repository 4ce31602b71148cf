"""`gcl-nb notebooks`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

from gcl_nb.workbench.commands.common import add_data_options, data_options, parse_assignment
from gcl_nb.workbench.notebooks import NOTEBOOKS, SOLUTIONS, run_notebooks


def add_cli(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="cpu", help="training/data preset: smoke, cpu or gpu (default cpu)")
    parser.add_argument("--out", default="runs/default", help="run directory (default runs/default)")
    parser.add_argument("--ci", action="store_true", help="CI mode: smoke data, a few steps, PCA maps")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        type=parse_assignment,
        metavar="NAME=VALUE",
        help="extra notebook parameter (repeatable), e.g. -p data_path=/data/marqo-gs-10m",
    )
    parser.add_argument("--no-html", action="store_true", help="skip the HTML export")
    parser.add_argument(
        "--solutions",
        action="store_true",
        help=f"then run {SOLUTIONS}: every exercise's stated answer through its check on this run (fails on a ✗)",
    )
    parser.add_argument(
        "--notebook-dir",
        default=None,
        metavar="DIR",
        help="folder holding the notebooks (default: notebooks/ of the source checkout gcl_nb "
        "runs from, else ./notebooks)",
    )
    add_data_options(parser, corpus=True)


def run_cli(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill streams cell outputs
    start = time.perf_counter()
    params = {**asdict(data_options(args)), "corpus": args.corpus, **dict(args.param)}
    executed = run_notebooks(
        args.out,
        preset=args.preset,
        ci=args.ci,
        params=params,
        notebook_dir=args.notebook_dir,
        html=not args.no_html,
        notebooks=(*NOTEBOOKS, SOLUTIONS) if args.solutions else NOTEBOOKS,
        log=True,
    )
    print(
        f"executed {len(executed)} notebooks in {time.perf_counter() - start:.0f} s; results in "
        f"{Path(args.out).resolve()}:",
        file=sys.stderr,
    )
    for path in executed:
        print(f"  {path}" + ("" if args.no_html else f"  (+ {path.with_suffix('.html').name})"))
    return 0

"""`gcl-nb make-data`."""

from __future__ import annotations

import argparse
import json
import time

from gcl_nb.data.synthshop import make_synthshop
from gcl_nb.data.synthshop.presets import SYNTHSHOP_PRESETS
from gcl_nb.workbench.commands.common import parse_assignment


def add_cli(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", default="cpu", choices=sorted(SYNTHSHOP_PRESETS), help="data set size (default cpu)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=parse_assignment,
        metavar="NAME=VALUE",
        help="override a generator parameter, e.g. --set noise_strength=0.5 (repeatable)",
    )


def run_cli(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    root = make_synthshop(args.out, preset=args.preset, seed=args.seed, **dict(args.set))
    meta = json.loads((root / "synthshop.json").read_text())
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    print(
        f"SynthShop {args.preset} (seed {args.seed}) -> {root}: {meta['parameters']['n_products']} products, "
        f"{meta['parameters']['n_queries']} queries, {size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s"
    )
    print(json.dumps(meta["stats"], indent=2))
    return 0

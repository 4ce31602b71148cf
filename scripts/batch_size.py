"""What does the batch size do to CLIP and GCL? Train each (method, batch size, seed) with the same number of
training pairs seen (steps = pairs / batch size, warmup likewise in pairs), evaluate on the four splits.

    python scripts/batch_size.py --data runs/synthshop-cpu-large --out runs/bs --results results/batch_size_cpu

Each (method, batch size) is one `gcl-nb experiment` folder, <OUT>/<method>-b<batch size>, so an interrupted
study resumes, and its runs can be made in parallel processes with the same arguments (`--methods clip` in one,
`--methods gcl-linear` in another) before one last call writes the report. Writes <RESULTS>.csv (the experiment
rows with batch_size and steps) and <RESULTS>.md (mean +- std over seeds of NDCG@10 and ERR per split).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

from gcl_nb.data.schema import SPLITS
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.workbench.experiment import ExperimentConfig, gains, run_experiment, write_result_files
from gcl_nb.workbench.presets import train_config

METRICS = ("ndcg@10", "err")


def study(
    data: str, out: Path, preset: str, methods: list[str], seeds: list[int], batch_sizes: list[int], pairs: int
) -> pd.DataFrame:
    """Every (method, batch size, seed) run's rows of the experiment results, with batch_size and steps."""
    defaults = train_config(preset)
    warmup_pairs = defaults.warmup * defaults.batch_size  # the preset's warmup, in pairs
    tables = []
    for method in methods:
        for batch_size in batch_sizes:
            steps = pairs // batch_size
            overrides = {"batch_size": batch_size, "steps": steps, "warmup": warmup_pairs // batch_size}
            config = ExperimentConfig(
                data=data,
                out=str(out / f"{method}-b{batch_size}"),
                preset=preset,
                methods=[method],
                seeds=seeds,
                overrides=overrides,
                evaluation=EvalConfig(),
            )
            results, _ = run_experiment(config)
            tables.append(results.assign(batch_size=batch_size, steps=steps))
    return pd.concat(tables, ignore_index=True)


def report(results: pd.DataFrame) -> str:
    """Markdown: one table per metric, rows (method, batch size), columns the splits, mean +- std over seeds."""
    grouped = results.groupby(["method", "batch_size", "steps"], sort=False)
    splits = [s for s in SPLITS if s in set(results["split"])]
    parts = []
    for metric in METRICS:
        lines = [
            f"### {metric}",
            "",
            "| method | batch | steps | " + " | ".join(splits) + " |",
            "|---|---|---|" + "---|" * len(splits),
        ]
        for (method, batch_size, steps), rows in grouped:
            by_split = rows.groupby("split")[metric]
            mean, std = by_split.mean(), by_split.std(ddof=1)
            cells = " | ".join(f"{mean[s]:.3f}" + ("" if pd.isna(std[s]) else f" +- {std[s]:.3f}") for s in splits)
            lines.append(f"| `{method}` | {batch_size} | {steps} | {cells} |")
        parts.append("\n".join(lines))
    methods = list(dict.fromkeys(results["method"]))
    if len(methods) == 2:  # the second method's gain over the first at each batch size
        lines = [
            f"### gain of `{methods[1]}` over `{methods[0]}` (seed means)",
            "",
            "| batch | " + " | ".join(f"{m} {s}" for m in METRICS for s in splits) + " |",
            "|---|" + "---|" * (len(METRICS) * len(splits)),
        ]
        for batch_size, rows in results.groupby("batch_size"):
            gain = gains(rows, methods[0], METRICS).loc[methods[1]]
            lines.append(
                f"| {batch_size} | " + " | ".join(f"{gain.loc[s, m]:+.1%}" for m in METRICS for s in splits) + " |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data folder, e.g. `gcl-nb make-data --preset cpu-large`'s")
    parser.add_argument("--preset", default="cpu", help="training preset (default cpu)")
    parser.add_argument("--methods", nargs="+", default=["clip", "gcl-linear"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 512, 1024])
    parser.add_argument("--pairs", type=int, default=76_800, help="training pairs seen by every run (default 76,800)")
    parser.add_argument("--out", default="runs/batch_size")
    parser.add_argument("--results", help="write <RESULTS>.csv and <RESULTS>.md")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    bad = [b for b in args.batch_sizes if not 2 <= b <= args.pairs]
    if bad:
        parser.error(f"--batch-sizes {bad}: each must lie between 2 and --pairs ({args.pairs})")
    results = study(args.data, Path(args.out), args.preset, args.methods, args.seeds, args.batch_sizes, args.pairs)
    text = report(results)
    print(text)
    if args.results:
        command = "python scripts/batch_size.py " + " ".join(shlex.quote(a) for a in argv)
        title = f"Batch size ({args.preset} preset, {args.pairs:,} pairs per run)"
        seeds = ", ".join(map(str, args.seeds))
        write_result_files(args.results, results, title, command, f"Mean +- std over seeds {seeds}.\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

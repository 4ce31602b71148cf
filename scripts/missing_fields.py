"""Is a product with a missing field still found? Train each (method, seed), then evaluate the fused model with
all fields, each field alone, and with a share of a field removed (gcl_nb.evaluation.fusion.missing_field_ablation).

    python scripts/missing_fields.py --seeds 0 1 2 --results results/missing_fields_cpu

Writes <RESULTS>.csv (method, seed, split, eval_fields, ndcg@10, err) and <RESULTS>.md (the targets table: image
alone against the untrained model, titles missing against all fields, all fields against the default). Finished
(method, seed) runs are kept in <OUT>/missing_fields.csv, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

from gcl_nb.data import make_synthshop
from gcl_nb.data.options import DataOptions
from gcl_nb.data.schema import SPLITS
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.fusion import FUSED, missing_field_ablation
from gcl_nb.workbench.commands.common import field_shares, parse_assignment
from gcl_nb.workbench.experiment import ExperimentConfig, train_or_build_model, write_result_files

COLUMNS = ["method", "seed", "split", "eval_fields", "ndcg@10", "err"]
DEFAULT, UNTRAINED = "gcl-linear", "random-init"


def measure(config: ExperimentConfig, shares: dict[str, float], table_path: Path) -> pd.DataFrame:
    """Rows of COLUMNS for every (method, seed) of `config`, appended to `table_path` as each run finishes."""
    data = config.data_options.load(config.data, splits=config.evaluation.splits, corpus=config.corpus)
    done = pd.read_csv(table_path) if table_path.exists() else pd.DataFrame(columns=COLUMNS)
    for method in config.methods:
        for seed in config.seeds:
            if ((done["method"] == method) & (done["seed"] == seed)).any():
                continue
            model, _ = train_or_build_model(config, method, seed)
            table = missing_field_ablation(model, data, shares, seed=seed, config=config.evaluation)
            rows = table.assign(method=method, seed=seed, eval_fields=table["fields"].replace({FUSED: "all"}))[COLUMNS]
            rows.to_csv(table_path, mode="a", header=not table_path.exists(), index=False)
            done = pd.read_csv(table_path)
            print(rows.round(4).to_string(index=False), flush=True)
    return done


def targets(results: pd.DataFrame, missing: str) -> str:
    """The targets table (NDCG@10, mean over seeds, per split) as Markdown."""
    mean = results.groupby(["method", "eval_fields", "split"])["ndcg@10"].mean()
    splits = [s for s in SPLITS if s in set(results["split"])]
    untrained = mean[UNTRAINED, "all"] if UNTRAINED in mean.index.get_level_values(0) else None
    default = mean[DEFAULT, "all"] if DEFAULT in mean.index.get_level_values(0) else None
    lines = ["| method | eval_fields | " + " | ".join(splits) + " |", "|---|---|" + "---|" * len(splits)]
    for method in dict.fromkeys(results["method"]):
        for fields in ("all", "image", "title", missing):
            if (method, fields) not in mean.index.droplevel(2):
                continue
            lines.append(
                f"| `{method}` | {fields} | " + " | ".join(f"{mean[method, fields][s]:.3f}" for s in splits) + " |"
            )
    lines += ["", "| method | target | " + " | ".join(splits) + " |", "|---|---|" + "---|" * len(splits)]
    for method in (m for m in dict.fromkeys(results["method"]) if m != UNTRAINED):
        ratios = []
        if untrained is not None:
            ratios.append(("image alone / untrained (>= 3x)", mean[method, "image"] / untrained))
        ratios.append((f"{missing} / all fields (>= 0.9x)", mean[method, missing] / mean[method, "all"]))
        if default is not None and method != DEFAULT:
            ratios.append((f"all fields / `{DEFAULT}` (>= 0.98x)", mean[method, "all"] / default))
        for name, ratio in ratios:
            lines.append(f"| `{method}` | {name} | " + " | ".join(f"{ratio[s]:.3f}x" for s in splits) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data folder (default: generate SynthShop of --preset under --out/data)")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument(
        "--methods", nargs="+", default=[DEFAULT, "gcl-linear-title-dropout", "gcl-linear-title-dropout-0.1", UNTRAINED]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        type=parse_assignment,
        metavar="FIELD=VALUE",
        help="TrainConfig overrides for every method",
    )
    parser.add_argument(
        "--drop",
        type=field_shares,
        default={"title": 0.3},
        metavar="FIELD:SHARE",
        help="field removed from a share of the products at evaluation (default title:0.3)",
    )
    parser.add_argument("--top-q", type=int, default=2000)
    parser.add_argument("--out", default="runs/missing_fields")
    parser.add_argument("--results", help="write <RESULTS>.csv and <RESULTS>.md")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    data = args.data or str(make_synthshop(Path(args.out) / "data", preset=args.preset))
    config = ExperimentConfig(
        data=data,
        data_options=DataOptions(),
        out=args.out,
        preset=args.preset,
        methods=args.methods,
        seeds=args.seeds,
        overrides=dict(args.set),
        evaluation=EvalConfig(top_q=args.top_q),
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    results = measure(config, args.drop, Path(args.out) / "missing_fields.csv")
    results = results[results["method"].isin(args.methods) & results["seed"].isin(args.seeds)]
    name, share = next(iter(args.drop.items()))
    text = targets(results, f"{name}_missing_{share:g}")
    print(text)
    if args.results:
        command = "python scripts/missing_fields.py " + " ".join(shlex.quote(a) for a in argv)
        seeds = ", ".join(map(str, args.seeds))
        body = f"NDCG@10, mean over seeds {seeds}.\n\n{text}"
        write_result_files(args.results, results, f"Missing fields ({args.preset} preset)", command, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

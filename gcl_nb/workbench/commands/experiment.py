"""`gcl-nb experiment`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from gcl_nb.data import make_synthshop
from gcl_nb.workbench.commands.common import (
    add_data_options,
    add_eval_options,
    data_options,
    eval_config,
    parse_assignment,
)
from gcl_nb.workbench.experiment import (
    METHODS,
    PAPER_METHODS,
    UNTRAINED,
    ExperimentConfig,
    loss_report,
    report,
    run_experiment,
    strength_sweep,
    sweep_gains,
)


def add_cli(parser) -> None:
    parser.add_argument("--data", help="data folder (default: generate SynthShop of --preset under --out/data)")
    add_data_options(parser, corpus=True)
    parser.add_argument("--preset", default="cpu", help="training preset, and SynthShop preset when generating")
    parser.add_argument(
        "--methods", nargs="+", default=list(PAPER_METHODS), help=f"from {', '.join([*METHODS, *UNTRAINED])}"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="override the preset's training steps")
    start = parser.add_argument_group("starting model of every trained method (and of method `pretrained`)")
    start.add_argument("--arch", help="open_clip name, hf-hub:ORG/NAME or local-dir:PATH (default: the preset's)")
    start.add_argument("--pretrained", help="open_clip pretrained tag (laion2b_s34b_b79k) or checkpoint file")
    start.add_argument("--model-cache-dir", help="Hugging Face cache for hub models and tags (default: the usual one)")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        type=parse_assignment,
        metavar="FIELD=VALUE",
        help="TrainConfig overrides for every method (JSON values, e.g. batch_size=128)",
    )
    add_eval_options(parser)
    parser.add_argument("--device", default="auto", help="trains and evaluates every model (auto: CUDA when present)")
    parser.add_argument("--out", default="runs/experiment", help="run directories and raw tables")
    parser.add_argument("--results", help="also write <RESULTS>.csv (tidy table) and <RESULTS>.md (report)")
    parser.add_argument(
        "--sweep",
        nargs="*",
        type=float,
        metavar="STRENGTH",
        help="instead: sweep the generator's --vary parameters over these strengths",
    )
    parser.add_argument(
        "--vary",
        nargs="+",
        default=["noise_strength"],
        help="SynthShop parameters set to each strength (default noise_strength)",
    )
    parser.add_argument("--progress", action="store_true")


def run_cli(args) -> int:
    overrides = dict(args.set)
    if args.steps:
        overrides["steps"] = args.steps
    for name in ("arch", "pretrained", "model_cache_dir"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    command = "gcl-nb " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    options = dict(
        evaluation=eval_config(args),
        device=args.device,
        progress=args.progress,
        overrides=overrides,
        data_options=data_options(args),
        corpus=args.corpus,
    )
    if args.sweep is not None:
        sweep = strength_sweep(
            args.out,
            args.sweep or [0.0, 1.0, 4.0],
            preset=args.preset,
            methods=args.methods,
            seeds=args.seeds,
            vary=args.vary,
            **options,
        )
        table = sweep_gains(sweep)
        print(table.round(4).to_string())
        if args.results:
            sweep.to_csv(f"{args.results}.csv", index=False)
            Path(f"{args.results}.md").write_text(
                f"# Gain over CLIP vs {' = '.join(args.vary)}\n\nProduced by:\n\n```bash\n{command}\n```\n\n"
                + table.to_markdown(floatfmt="+.3f")
                + "\n"
            )
        return 0
    data = args.data or str(Path(args.out) / "data")
    config = ExperimentConfig(
        data=data, out=args.out, preset=args.preset, methods=args.methods, seeds=args.seeds, **options
    )  # checks every setting before any work
    if args.data is None:
        make_synthshop(data, preset=args.preset)
    results, per_query = run_experiment(config)
    text = report(results, per_query, command=command) + "\n" + loss_report(Path(args.out))
    print(text)
    if args.results:
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        results.to_csv(f"{args.results}.csv", index=False)
        Path(f"{args.results}.md").write_text(text + "\n")
    return 0

"""`gcl-nb export`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gcl_nb.data.schema import SettingError
from gcl_nb.models.checkpoint import CONFIG_NAME, read_config
from gcl_nb.models.export import check_export_target, export_model
from gcl_nb.workbench.commands.common import add_model_options, load_model
from gcl_nb.workbench.experiment.outputs import RESULTS_NAME, RUN_LOG_NAME, read_run_log, read_table


def add_cli(parser) -> None:
    parser.description = (
        "Write a model in open_clip's hub layout (open_clip_config.json, open_clip_model.safetensors, README.md "
        "model card): open_clip.create_model_and_transforms('local-dir:DIR') loads it without gcl_nb."
    )
    add_model_options(parser, model_required=True)
    parser.add_argument("--out", required=True, help="the folder to write (new or empty)")
    parser.add_argument(
        "--results",
        help="an evaluation table for the model card (a `gcl-nb evaluate --out` CSV); default: the run's rows of "
        "its experiment's results.csv, when the run belongs to one",
    )


def experiment_rows(run_dir: Path) -> pd.DataFrame | None:
    """The rows of `run_dir`'s (method, seed) in the results.csv of the experiment folder holding it, if any."""
    out = run_dir.parent
    if not (out / RUN_LOG_NAME).is_file() or not (out / RESULTS_NAME).is_file():
        return None
    log = read_run_log(out)
    mine = log[log["run_dir"].map(lambda p: p is not None and Path(p).resolve() == run_dir.resolve())]
    if mine.empty:
        return None
    results = read_table(out / RESULTS_NAME)
    method, seed = mine.iloc[-1]["method"], mine.iloc[-1]["seed"]
    return results[(results["method"] == method) & (results["seed"] == seed)]


def run_cli(args) -> int:
    out = check_export_target(args.out)  # before loading anything
    if args.results is not None and not Path(args.results).is_file():
        raise SettingError(f"--results {args.results}: no such file")
    encoder = load_model(args)
    run_dir = Path(args.model) if (Path(args.model) / CONFIG_NAME).is_file() else None
    training = read_config(run_dir).get("train") if run_dir is not None else None
    results = pd.read_csv(args.results) if args.results else experiment_rows(run_dir) if run_dir else None
    export_model(encoder, out, training=training, results=results)
    print(f"exported {args.model} to {out}: open_clip.create_model_and_transforms('local-dir:{out}')")
    return 0

"""`gcl-nb train`."""

from __future__ import annotations

import argparse
import os
from dataclasses import fields
from typing import Union, get_args, get_origin, get_type_hints

from gcl_nb.training import TrainConfig, train
from gcl_nb.workbench.commands.common import add_data_options, data_options, field_shares
from gcl_nb.workbench.presets import TRAIN_PRESETS, train_config


def _cli_type(hint):
    """argparse type of a TrainConfig field: lists comma-separated, {field: share} as NAME:SHARE,...,
    Optional accepts 'none'."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if get_origin(hint) is dict:
        return field_shares
    if get_origin(hint) is list:
        return lambda text: [args[0](x) for x in text.split(",") if x]
    if get_origin(hint) is Union:
        inner = _cli_type(args[0])
        return (
            (lambda text: None if text.lower() == "none" else inner(text)) if len(args) < len(get_args(hint)) else inner
        )
    return hint


def add_cli(parser: argparse.ArgumentParser) -> None:
    """`gcl-nb train --data DIR --preset cpu --stw linear --out runs/x [--steps N ...]`: one flag per field."""
    parser.add_argument("--preset", default="cpu", choices=sorted(TRAIN_PRESETS), help="training preset (default cpu)")
    add_data_options(parser)
    for name, hint in get_type_hints(TrainConfig).items():
        if name in ("preset", "data_options"):
            continue
        flag, text = "--" + name.replace("_", "-"), TrainConfig.__dataclass_fields__[name].metadata["help"]
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            parser.add_argument(flag, type=_cli_type(hint), default=None, required=name == "data", help=text)


def run_cli(args: argparse.Namespace) -> int:
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(TrainConfig)
        if f.name != "preset" and getattr(args, f.name, None) is not None
    }
    overrides["data_options"] = data_options(args)
    run_dir = train(train_config(args.preset, **overrides))
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, only the first process prints
        print(f"run directory: {run_dir}")
    return 0

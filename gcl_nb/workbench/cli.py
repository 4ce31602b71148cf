"""`gcl-nb` command line: one subcommand per workbench step.

Each subcommand lives with its code: the module named in SUBCOMMANDS provides
`add_cli(parser)` (declare arguments) and `run_cli(args) -> int` (do the work).
Modules (gcl_nb.workbench.commands.*) are imported only when their subcommand runs, so `gcl-nb --help` stays
fast.
Bad input data (gcl_nb.data.DataError) and unusable settings (gcl_nb.data.SettingError: an option, configuration
field or notebook parameter) are reported as one line naming the file / row or the setting and what to do, with exit
status 2 (under torchrun by the first process only); `--debug` shows the traceback instead. Ctrl-C ends any
subcommand with one line and status 130 (the writers leave nothing half-written that looks complete:
gcl_nb.data.atomic_files).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from gcl_nb.data.schema import DataError, SettingError

#: seconds a process other than rank 0 waits before exiting on bad input (see main)
RANK_GRACE_S = 2.0
#: exit status after Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2)
INTERRUPTED_STATUS = 130
#: what the one-line report calls each kind of bad input
_ERROR_KINDS = ((DataError, "data error"), (SettingError, "invalid setting"))

SUBCOMMANDS = {
    "prepare": ("gcl_nb.workbench.commands.prepare", "turn a search log and a product catalogue into a data folder"),
    "make-data": ("gcl_nb.workbench.commands.make_data", "generate the SynthShop data set in the Marqo-GS layout"),
    "train": ("gcl_nb.workbench.commands.train", "train a multi-field model with the GCL (or CLIP) loss"),
    "evaluate": ("gcl_nb.workbench.commands.evaluate", "evaluate a trained model on the Marqo-GS protocol, per split"),
    "export": ("gcl_nb.workbench.commands.export", "write a model in open_clip's hub layout, with a model card"),
    "experiment": ("gcl_nb.workbench.commands.experiment", "CLIP vs GCL variants over seeds and splits, with a report"),
    "notebooks": ("gcl_nb.workbench.commands.notebooks", "execute the four notebooks with papermill and export HTML"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _run(argv)
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        if int(os.environ.get("RANK", "0")) == 0:
            command = " ".join(["gcl-nb", *argv[:1]])
            print(f"{command}: interrupted (Ctrl-C)", file=sys.stderr)
        return INTERRUPTED_STATUS


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gcl-nb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv else None
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(module=module_name)
        sp.add_argument(
            "--debug", action="store_true", help="on a data error or an invalid setting, show the full traceback"
        )
        if name == chosen:
            importlib.import_module(module_name).add_cli(sp)
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args.module).run_cli(args) or 0)
    except (DataError, SettingError) as err:
        if args.debug:
            raise
        kind = next(name for cls, name in _ERROR_KINDS if isinstance(err, cls))
        message = " ".join(str(err).splitlines())
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"gcl-nb {args.command}: {kind}: {message} (--debug shows the traceback)", file=sys.stderr)
        else:  # under torchrun every process fails alike: the first reports it, the others give it time to
            time.sleep(RANK_GRACE_S)  # print before torchrun stops every process at the first exit
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`gcl-nb evaluate`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gcl_nb.data.field_drop import describe_shares, drop_fields
from gcl_nb.evaluation.split_evaluation import per_query_table, run_protocol, summary_table
from gcl_nb.evaluation.trec import write_qrels, write_run
from gcl_nb.models import load_encoder
from gcl_nb.models.factory import resolve_device
from gcl_nb.retrieval.bm25 import BM25Retriever
from gcl_nb.workbench.commands.common import add_data_options, add_eval_options, data_options, eval_config, field_shares


def add_cli(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="run dir or checkpoint file (gcl_nb.models.load_encoder)")
    source.add_argument("--bm25", action="store_true", help="evaluate the BM25 title baseline instead")
    parser.add_argument("--data", required=True, help="Marqo-GS subset or SynthShop folder")
    add_data_options(parser, corpus=True)
    add_eval_options(parser)
    parser.add_argument(
        "--drop-field",
        type=field_shares,
        default={},
        metavar="FIELD:SHARE[,...]",
        help="remove a document field from a seeded share of each corpus half's products, e.g. "
        "title:0.3 (recorded in the table's drop_field column)",
    )
    parser.add_argument("--drop-seed", type=int, default=0, help="seed of --drop-field's choice of products")
    parser.add_argument("--out", help="write the per-split table to this CSV")
    parser.add_argument("--per-query", help="write the per-query table to this CSV")
    parser.add_argument("--trec-dir", help="write <split>.run and <split>.qrels (TREC format) here")
    parser.add_argument("--device", default="cpu", help="torch device the model is loaded on; the search runs there")
    parser.add_argument("--progress", action="store_true", help="show progress bars")


def run_cli(args) -> int:
    config, device = eval_config(args), resolve_device(args.device, "--device")  # checked before any work
    if args.bm25:
        model = BM25Retriever()
    else:
        model = load_encoder(args.model, device=device)
    data = data_options(args).load(args.data, splits=config.splits, corpus=args.corpus)
    if args.drop_field:
        fields = ["title"] if args.bm25 else [f.name for f in model.config.rhs]
        data = drop_fields(data, args.drop_field, seed=args.drop_seed, fields=fields)
    results = run_protocol(model, data, config)
    summary = summary_table(results)
    if args.drop_field:
        summary = summary.assign(drop_field=describe_shares(args.drop_field), drop_seed=args.drop_seed)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(summary.round(4).to_string(index=False))
    if args.out:
        summary.to_csv(args.out, index=False)
    if args.per_query:
        per_query_table(results).to_csv(args.per_query, index=False)
    if args.trec_dir:
        out = Path(args.trec_dir)
        out.mkdir(parents=True, exist_ok=True)
        for r in results:
            write_run(out / f"{r.split}.run", r.run(), tag="bm25" if args.bm25 else "gcl_nb")
            write_qrels(out / f"{r.split}.qrels", r.qrels)
    return 0

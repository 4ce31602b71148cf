"""`gcl-nb evaluate`."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from gcl_nb.data.field_drop import describe_shares, drop_fields
from gcl_nb.data.schema import SettingError
from gcl_nb.evaluation.precomputed import EmbeddingTable
from gcl_nb.evaluation.split_evaluation import per_query_table, run_protocol, summary_table
from gcl_nb.evaluation.trec import write_qrels, write_run
from gcl_nb.models.factory import resolve_device
from gcl_nb.retrieval.bm25 import BM25Retriever
from gcl_nb.workbench.commands.common import (
    add_data_options,
    add_eval_options,
    add_model_options,
    data_options,
    eval_config,
    field_shares,
    load_model,
)


def add_cli(parser) -> None:
    parser.description = (
        "Evaluate a model, BM25, or another system's embeddings on the Marqo-GS protocol, per split. A model is "
        "named with --model (a run folder, an exported folder, hf-hub:ORG/NAME, local-dir:PATH, or an open_clip "
        "checkpoint file with --arch) or with --arch and --pretrained (an open_clip tag or file)."
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="the model (see the description)")
    source.add_argument("--bm25", action="store_true", help="evaluate the BM25 title baseline instead")
    source.add_argument(
        "--query-embeddings",
        help="evaluate precomputed embeddings: queries (parquet: query, embedding; .npz: ids, embeddings; or the "
        "official evaluator's .pt), with --doc-embeddings",
    )
    parser.add_argument("--doc-embeddings", help="products (parquet: product_id, embedding; .npz; .pt)")
    add_model_options(parser)
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


def _check_sources(args) -> None:
    """SettingError for flags that do not name one thing to evaluate."""
    if (args.query_embeddings is None) != (args.doc_embeddings is None):
        raise SettingError("--query-embeddings and --doc-embeddings go together: give both files")
    if args.model is None and args.arch is None and not args.bm25 and args.query_embeddings is None:
        raise SettingError("name what to evaluate: --model, --arch (with --pretrained), --bm25 or --query-embeddings")
    model_flags = [
        f for f in ("arch", "pretrained", "rhs", "rhs_weights", "model_cache_dir", "image_size") if getattr(args, f)
    ]
    if (args.bm25 or args.query_embeddings) and (model_flags or args.allow_partial):
        raise SettingError(
            f"--{model_flags[0].replace('_', '-') if model_flags else 'allow-partial'} names a model: "
            "it does not apply to --bm25 or --query-embeddings"
        )
    if args.drop_field and args.query_embeddings:
        raise SettingError("--drop-field removes fields before products are embedded: not for --query-embeddings")


def _writable(path: str | None, option: str, folder: bool = False) -> None:
    """Create the folder `path` (or its parent) now, before the work: SettingError naming `option` if it cannot be."""
    if path is None:
        return
    target = Path(path) if folder else Path(path).parent
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SettingError(f"{option} {path}: cannot create {target} ({err.strerror})") from None
    if not os.access(target, os.W_OK):
        raise SettingError(f"{option} {path}: {target} is not writable")


def run_cli(args) -> int:
    _check_sources(args)
    config, device = eval_config(args), resolve_device(args.device, "--device")  # checked before any work
    for path, option in ((args.out, "--out"), (args.per_query, "--per-query")):
        _writable(path, option)
    _writable(args.trec_dir, "--trec-dir", folder=True)
    data = data_options(args).load(args.data, splits=config.splits, corpus=args.corpus)
    if args.bm25:
        model = BM25Retriever()
    elif args.query_embeddings:
        model = EmbeddingTable.read(
            args.query_embeddings, args.doc_embeddings, data, config.splits[0] if len(config.splits) == 1 else None
        )
    else:
        model = load_model(args, device)
    if args.drop_field:
        fields = ["title"] if args.bm25 else [f.name for f in model.config.rhs]
        data = drop_fields(data, args.drop_field, seed=args.drop_seed, fields=fields)
    results = run_protocol(model, data, config)
    summary, per_query = summary_table(results), per_query_table(results)
    if args.drop_field:
        summary = summary.assign(drop_field=describe_shares(args.drop_field), drop_seed=args.drop_seed)
    partial = (getattr(model, "source", None) or {}).get("partial")
    if partial:  # a run stopped early, loaded on purpose: every table says so
        summary, per_query = summary.assign(partial_run=partial), per_query.assign(partial_run=partial)
        print(f"note: {args.model} is a training run that {partial}; these are its last checkpoint's numbers")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(summary.round(4).to_string(index=False))
    if args.out:
        summary.to_csv(args.out, index=False)
    if args.per_query:
        per_query.to_csv(args.per_query, index=False)
    if args.trec_dir:
        out = Path(args.trec_dir)
        tag = "bm25" if args.bm25 else "embeddings" if args.query_embeddings else "gcl_nb"
        for r in results:
            write_run(out / f"{r.split}.run", r.run(), tag=tag)
            write_qrels(out / f"{r.split}.qrels", r.qrels)
    return 0

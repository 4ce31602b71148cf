"""`gcl-nb prepare`."""

from __future__ import annotations

from gcl_nb.data.prepare import LAYOUTS, SCORE_KINDS, Columns, format_report, prepare
from gcl_nb.data.schema import PREPARE_REPORT


def add_cli(parser) -> None:
    parser.add_argument(
        "--pairs", required=True, help="search log: query, product id and a score column (.csv, .parquet or .jsonl)"
    )
    parser.add_argument(
        "--catalogue",
        required=True,
        help="products: product id, title, image path and any further text columns (.csv, .parquet or .jsonl)",
    )
    parser.add_argument(
        "--image-root",
        required=True,
        help="folder the catalogue's image paths are relative to (or inside); pass it again to train and evaluate",
    )
    parser.add_argument(
        "--score-column",
        required=True,
        help="the log's judgement: clicks, purchases, a grade (higher is better) or a rank position",
    )
    parser.add_argument(
        "--score-is",
        choices=SCORE_KINDS,
        default="auto",
        help="score (higher is better) or rank (1 = top); auto: rank for a column named position or rank, else score",
    )
    parser.add_argument("--out", required=True, help="data folder to write (new or empty)")
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="tarball",
        help="tarball (split CSVs + corpus JSON, images stay under the image root) or parquet (images inside)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the query and product splits")
    defaults = Columns()
    for name in ("query", "product", "title", "image"):
        parser.add_argument(
            f"--{name}-column",
            default=getattr(defaults, name),
            help=f"column name of the {name} (default {getattr(defaults, name)})",
        )
    parser.add_argument(
        "--catalogue-product-column",
        help="column name of the product id in the catalogue, when it differs from the log's (--product-column)",
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="text encoding of CSV and JSON lines inputs, e.g. latin-1 (default utf-8)"
    )
    parser.add_argument("--top-q", type=int, default=2000, help="evaluation queries per split the report checks")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch the report checks")


def run_cli(args) -> int:
    columns = Columns(
        args.query_column, args.product_column, args.title_column, args.image_column, args.catalogue_product_column
    )
    report = prepare(
        args.pairs,
        args.catalogue,
        args.image_root,
        args.score_column,
        args.out,
        score_is=args.score_is,
        seed=args.seed,
        layout=args.layout,
        columns=columns,
        top_q=args.top_q,
        batch_size=args.batch_size,
        encoding=args.encoding,
    )
    print(format_report(report))
    print(
        f"data folder: {args.out} (report: {args.out}/{PREPARE_REPORT}); train with "
        f"--data {args.out} --image-root {args.image_root}"
    )
    return 0

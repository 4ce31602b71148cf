"""Write split rows and corpus entries in the Marqo-GS tarball layout (used by `gcl-nb prepare` and SynthShop).

Per split `<stem>.csv` (columns SPLIT_CSV_COLUMNS), `<stem>_gt_dev.json` / `<stem>_gt_test.json`
({query + QUERY_KEY_SUFFIX: {product_id: grade}}, keyed as the official files; grades as the official evaluation
computes them over the split's score_linear, gcl_nb.data.grades.grade_scores; at most GT_TOP_K products per query,
best first, ties in row order) and `<stem>_queries.json` (the split's query strings in order of first row).
`corpus_1.json` / `corpus_2.json`: {product_id: {"title", "image_local", further fields}}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from gcl_nb.data.grades import grade_scores
from gcl_nb.data.gs.release_split import split_side_and_half
from gcl_nb.data.schema import QUERY_KEY_SUFFIX, SPLIT_FILE_STEMS, SPLITS

SPLIT_CSV_COLUMNS = (
    "query",
    "product_id",
    "title",
    "image_local",
    "position",
    "score_linear",
    "score_reciprocal",
    "no_score",
    "pair_id",
    "query_id",
)
GT_TOP_K = 1000


def _dump_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def ground_truth(
    table: pd.DataFrame, query_codes: np.ndarray, queries: pd.Index, dev_queries: set[str]
) -> dict[str, dict]:
    """{"dev": qrels, "test": qrels} of one split's rows (one per (query, product_id); `query_codes` / `queries`:
    pd.factorize of its queries); qrels in order of each query's first row, each query's products best grade
    first (ties in row order), at most GT_TOP_K."""
    grades = grade_scores(table["score_linear"])
    order = np.lexsort((-grades, query_codes))  # by query, then best grade first; stable: ties in row order
    sorted_codes = query_codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    rank_in_query = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    kept = order[rank_in_query < GT_TOP_K]
    ends = np.searchsorted(query_codes[kept], np.arange(len(queries)), side="right")
    product_ids = table["product_id"].to_numpy()[kept].tolist()
    kept_grades = grades[kept].tolist()
    gt = {"dev": {}, "test": {}}
    start = 0
    for query, end in zip(queries, ends.tolist()):
        part = gt["dev" if query in dev_queries else "test"]
        part[query + QUERY_KEY_SUFFIX] = dict(zip(product_ids[start:end], kept_grades[start:end]))
        start = end
    return gt


def write_split(root: Path, split: str, table: pd.DataFrame, dev_queries: set[str]) -> None:
    stem = SPLIT_FILE_STEMS[split]
    table.to_csv(root / f"{stem}.csv", columns=list(SPLIT_CSV_COLUMNS), index=False)
    query_codes, queries = pd.factorize(table["query"])  # queries in order of first row
    for part, qrels in ground_truth(table, query_codes, queries, dev_queries).items():
        _dump_json(root / f"{stem}_gt_{part}.json", qrels)
    _dump_json(root / f"{stem}_queries.json", queries.tolist())


def write_corpus(root: Path, half: int, products: pd.DataFrame) -> None:
    """corpus_<half>.json from `products` (product_id, half, then the entry's fields: title, image_local and
    any further text field; None for a missing value)."""
    own = products[products["half"] == half]
    fields = [c for c in own.columns if c not in ("product_id", "half")]
    _dump_json(
        root / f"corpus_{half}.json",
        {pid: dict(zip(fields, values)) for pid, *values in own[["product_id", *fields]].itertuples(index=False)},
    )


def write_layout(root: Path, rows: pd.DataFrame, products: pd.DataFrame, dev_queries: set[str]) -> None:
    """The four split files and both corpus files. `rows`: SPLIT_CSV_COLUMNS plus `side` (the query's side, 0 or
    1) and `half` (the product's corpus half, 1 or 2); `products` as for write_corpus."""
    for split in SPLITS:
        side, half = split_side_and_half(split)
        own = rows.loc[(rows["side"] == side) & (rows["half"] == half), list(SPLIT_CSV_COLUMNS)]
        write_split(root, split, own, dev_queries)
    for half in (1, 2):
        write_corpus(root, half, products)

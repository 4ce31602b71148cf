"""Write a generated SynthShop data set in the Marqo-GS tarball layout (plus SynthShop-only extras).

Per split `<stem>.csv` (columns SPLIT_CSV_COLUMNS), `<stem>_gt_dev.json` / `<stem>_gt_test.json`
({query + QUERY_KEY_SUFFIX: {product_id: grade}}, keyed as the official files; the split's queries partitioned
50/50 into dev and test; grades as the official evaluation computes them over the split's score_linear,
gcl_nb.data.grades.grade_scores; at most 1000 products per query, best first) and `<stem>_queries.json`
(list of the split's query strings, in query-id order).
`corpus_1.json` / `corpus_2.json`: {product_id: {"title", "image_local": "/input/images/<product_id>.jpg"}}.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gcl_nb.data.grades import grade_scores
from gcl_nb.data.schema import QUERY_KEY_SUFFIX, SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS
from gcl_nb.data.synthshop.random_streams import Stream, stream_rng

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
#: where the authors' machine kept the images; the real release's image_local paths look like this.
AUTHOR_IMAGE_DIR = "/input/images"
GT_TOP_K = 1000


def image_file(product_id: str) -> str:
    return f"{product_id}.jpg"


def _dump_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def write_split(root: Path, split: str, table: pd.DataFrame, dev_queries: set[str]) -> None:
    stem = SPLIT_FILE_STEMS[split]
    table.loc[:, list(SPLIT_CSV_COLUMNS)].to_csv(root / f"{stem}.csv", index=False)
    graded = table.assign(grade=grade_scores(table["score_linear"]))
    gt = {"dev": {}, "test": {}}
    for query, rows in graded.groupby("query", sort=False):
        rows = rows.sort_values("grade", ascending=False, kind="stable").head(GT_TOP_K)
        key = query + QUERY_KEY_SUFFIX
        gt["dev" if query in dev_queries else "test"][key] = dict(zip(rows["product_id"], rows["grade"].tolist()))
    for part, qrels in gt.items():
        _dump_json(root / f"{stem}_gt_{part}.json", qrels)
    _dump_json(root / f"{stem}_queries.json", list(dict.fromkeys(table["query"])))


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
    """The four split files and both corpus files. `rows`: SPLIT_CSV_COLUMNS plus `side` (0: the 80% of
    queries, 1: the 20%) and `half` (the product's corpus half, 1 or 2); `products` as for write_corpus."""
    for split in SPLITS:
        side = int(SPLIT_FILE_STEMS[split].split("_")[1])  # query_{side}_product_id_{half - 1}
        write_split(root, split, rows[(rows["side"] == side) & (rows["half"] == SPLIT_CORPUS[split])], dev_queries)
    for half in (1, 2):
        write_corpus(root, half, products)


def write_dataset(
    root: Path, products: pd.DataFrame, queries: pd.DataFrame, ranked: pd.DataFrame, meta: dict, seed: int
) -> None:
    """`ranked` holds one row per (query, product) result with query_index, product_index, position
    (labels of `queries` / `products`)."""
    q = queries.loc[ranked["query_index"].to_numpy()]
    p = products.loc[ranked["product_index"].to_numpy()]
    position = ranked["position"].to_numpy()
    rows = pd.DataFrame(
        {
            "query": q["query"].to_numpy(),
            "product_id": p["product_id"].to_numpy(),
            "title": p["title"].to_numpy(),
            "image_local": [f"{AUTHOR_IMAGE_DIR}/{image_file(pid)}" for pid in p["product_id"]],
            "position": position,
            "score_linear": 101 - position,
            "score_reciprocal": 1.0 / position,
            "no_score": 1,
            "pair_id": [str(i) for i in range(len(ranked))],
            "query_id": q["query_id"].to_numpy(),
            "side": q["side"].to_numpy(),
            "half": p["half"].to_numpy(),
        }
    )
    rng = stream_rng(seed, Stream.DEV_TEST)
    dev_queries = set(queries["query"][rng.random(len(queries)) < 0.5])
    entries = products[["product_id", "half", "title"]].assign(
        image_local=[f"{AUTHOR_IMAGE_DIR}/{image_file(pid)}" for pid in products["product_id"]]
    )
    write_layout(root, rows, entries, dev_queries)
    products.drop(columns=["title"]).to_csv(root / "synthshop_products.csv", index=False)
    queries.to_csv(root / "synthshop_queries.csv", index=False)
    ranked_ids = pd.DataFrame(
        {
            "query_id": rows["query_id"],
            "product_id": rows["product_id"],
            "relevance": ranked["relevance"].round(4),
            "match_level": ranked["match_level"],
        }
    )
    ranked_ids.to_csv(root / "synthshop_pairs.csv", index=False)
    (root / "synthshop.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")

"""Write a generated SynthShop data set in the Marqo-GS tarball layout (gcl_nb.data.gs.release_writer) plus
SynthShop-only extras: synthshop_products.csv, synthshop_queries.csv, synthshop_pairs.csv (relevance and match
level per pair) and synthshop.json (generator, parameters, statistics). Queries go to the dev or test ground
truth 50/50 (the release's procedure, gcl_nb.data.gs.release_split); corpus entries' image_local is
"/input/images/<product_id>.jpg", as on the authors' machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gcl_nb.data.gs.release_split import (
    RELEASE_LARGEST_POSITION,
    dev_queries,
    linear_from_position,
    reciprocal_and_no_score,
)
from gcl_nb.data.gs.release_writer import write_layout
from gcl_nb.data.synthshop.random_streams import Stream, stream_rng

#: where the authors' machine kept the images; the real release's image_local paths look like this.
AUTHOR_IMAGE_DIR = "/input/images"


def image_file(product_id: str) -> str:
    return f"{product_id}.jpg"


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
            "score_linear": linear_from_position(position, RELEASE_LARGEST_POSITION),
            **reciprocal_and_no_score(position),
            "pair_id": [str(i) for i in range(len(ranked))],
            "query_id": q["query_id"].to_numpy(),
            "side": q["side"].to_numpy(),
            "half": p["half"].to_numpy(),
        }
    )
    rng = stream_rng(seed, Stream.DEV_TEST)
    dev = set(queries["query"][dev_queries(len(queries), rng)])
    entries = products[["product_id", "half", "title"]].assign(
        image_local=[f"{AUTHOR_IMAGE_DIR}/{image_file(pid)}" for pid in products["product_id"]]
    )
    write_layout(root, rows, entries, dev)
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

"""The SynthShop generator: catalogue, titles, queries and their ranking as tables (`generate_tables`), then the
data set on disk with its images (`make_synthshop`). gcl_nb.data.synthshop's docstring tells the whole pipeline."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from gcl_nb.data.atomic_files import folder_written_whole
from gcl_nb.data.gs.release_split import product_halves, query_sides
from gcl_nb.data.schema import SettingError
from gcl_nb.data.synthshop.catalog import make_catalog
from gcl_nb.data.synthshop.engine import LEVEL_SCALE, MATCH_LEVELS, Engine
from gcl_nb.data.synthshop.images import draw_product, encode_jpeg
from gcl_nb.data.synthshop.presets import SynthShopParams, preset_params
from gcl_nb.data.synthshop.queries import generate_queries
from gcl_nb.data.synthshop.random_streams import Stream, stream_rng
from gcl_nb.data.synthshop.titles import make_titles
from gcl_nb.data.synthshop.writer import image_file, write_dataset

GENERATOR_VERSION = 1


def generate_tables(params: SynthShopParams, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(products, queries, ranked) without images: products with title and half (1|2), queries with query_id and
    side (0|1), ranked with query_index, product_index, position, relevance, match_level per result."""
    products = make_catalog(params.n_products, stream_rng(seed, Stream.CATALOG), seed)
    products["title"] = make_titles(
        products, stream_rng(seed, Stream.TITLES), params.p_omit_colour, params.p_omit_other
    )
    engine = Engine(products, params.top_n, params.popularity_strength, params.noise_strength, seed)
    max_exact = int(params.exact_fraction * params.top_n)
    queries = generate_queries(
        products, engine, params.n_queries, max_exact, params.p_category, stream_rng(seed, Stream.QUERIES)
    )
    split_rng = stream_rng(seed, Stream.SPLITS)
    queries.insert(0, "query_id", [f"{i:06d}" for i in range(len(queries))])
    queries["side"] = query_sides(len(queries), split_rng, params.query_fraction)
    products["half"] = product_halves(len(products), split_rng)
    parts = []
    for qi, row in enumerate(queries.itertuples(index=False)):
        query = {a: getattr(row, a) for a in engine.p.codes if getattr(row, a)}
        top, rel = engine.rank(query, qi)
        parts.append(
            pd.DataFrame(
                {
                    "query_index": qi,
                    "product_index": top,
                    "position": np.arange(1, len(top) + 1),
                    "relevance": rel,
                    "match_level": engine.match_levels(query)[top],
                }
            )
        )
    return products, queries, pd.concat(parts, ignore_index=True)


def ranking_stats(ranked: pd.DataFrame) -> dict:
    """How graded each query's result list is: distinct coarse match levels and relevance levels in the top N,
    exact matches in the top N, share of the top N in its largest relevance level (ordered by popularity and
    noise only), as medians / means over queries."""
    g = ranked.groupby("query_index")
    levels = g["match_level"].nunique()
    tiers = np.rint(ranked["relevance"] * LEVEL_SCALE).groupby(ranked["query_index"])
    rel_levels = tiers.nunique()
    biggest_tier = tiers.apply(lambda t: t.value_counts(normalize=True).iloc[0])
    exact = g["match_level"].apply(lambda m: int((m == MATCH_LEVELS.index("exact")).sum()))
    share = ranked["match_level"].value_counts(normalize=True)
    return {
        "median_match_levels_in_top_n": float(levels.median()),
        "share_queries_with_3plus_match_levels": float((levels >= 3).mean()),
        "median_relevance_levels_in_top_n": float(rel_levels.median()),
        "median_share_of_largest_relevance_level": round(float(biggest_tier.median()), 4),
        "mean_exact_in_top_n": float(exact.mean()),
        "max_exact_in_top_n": int(exact.max()),
        "row_share_per_match_level": {
            MATCH_LEVELS[i]: round(float(share.get(i, 0.0)), 4) for i in range(len(MATCH_LEVELS))
        },
    }


def _write_images(image_dir: Path, products: pd.DataFrame, params: SynthShopParams, seed: int) -> None:
    image_dir.mkdir(parents=True, exist_ok=True)
    for row in products.itertuples():
        img = draw_product(
            row.category, row.colour, row.pattern, params.image_size, stream_rng(seed, Stream.IMAGES, row.Index)
        )
        (image_dir / image_file(row.product_id)).write_bytes(encode_jpeg(img, params.jpeg_quality))


def make_synthshop(root, preset: str = "smoke", seed: int = 0, **overrides) -> Path:
    """Generate SynthShop into `root` (created; an existing SynthShop there is replaced) and return the path.

    The data set is written whole or not at all (gcl_nb.data.atomic_files.folder_written_whole: into a sibling
    folder `.<name>.partial`, renamed to `root` once complete), so an interrupted generation never leaves a folder
    that looks finished. `overrides` change SynthShopParams fields of the preset, e.g. popularity_strength=0.0."""
    params = preset_params(preset, **overrides)
    root = Path(root)
    if root.exists() and any(root.iterdir()) and not (root / "synthshop.json").exists():
        raise SettingError(f"{root} is not empty and holds no synthshop.json: choose an empty or new folder (--out)")
    with folder_written_whole(root, "gcl-nb make-data") as partial:
        _generate(partial, params, preset, seed)
    return root


def _generate(root: Path, params: SynthShopParams, preset: str, seed: int) -> None:
    """Every file of the data set, into the empty folder `root`."""
    products, queries, ranked = generate_tables(params, seed)
    # Like the real release, the data set holds only products that some query returned.
    products = products[products.index.isin(ranked["product_index"])]
    meta = {
        "generator": "synthshop",
        "version": GENERATOR_VERSION,
        "preset": preset,
        "seed": seed,
        "parameters": asdict(params),
        "n_products_returned": len(products),
        "n_rows": len(ranked),
        "stats": ranking_stats(ranked),
    }
    write_dataset(root, products, queries, ranked, meta, seed)
    _write_images(root / "images", products, params, seed)

"""SynthShop's independent random streams: each part of the generator draws from its own numpy generator,
seeded with (seed, stream[, item]), so changing one part (e.g. image jitter) leaves every other part's draws
unchanged. The numbers are part of the data set's identity: same seed, same bytes."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    CATALOG = 1  # product attributes and popularity (catalog.py)
    TITLES = 2  # which attributes a title leaves out (titles.py)
    QUERIES = 3  # shopper queries (queries.py)
    SPLITS = 4  # query sides (80/20) and product halves (50/50)
    IMAGES = 5  # per-product drawing jitter (images.py), one stream per product
    DEV_TEST = 6  # which queries go to the dev ground truth, which to the test one (writer.py)
    RANKING_NOISE = 7  # the engine's per-(query, product) noise (engine.py), one stream per query


def stream_rng(seed: int, stream: Stream, *item: int) -> np.random.Generator:
    """The generator of `stream` for data-set `seed` (and `item`: the product or query it draws for)."""
    return np.random.default_rng([seed, int(stream), *item])

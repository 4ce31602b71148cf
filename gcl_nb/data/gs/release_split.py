"""The release's split procedure and its score columns, shared by `gcl-nb prepare`, the SynthShop generator and
the split-table checks (gcl_nb.data.gs.validation).

Queries are split 80/20 into side 0 (query_0) and side 1 (query_1), products 50/50 into corpus half 1 and 2; a
split holds the rows of one (query side, product half); each split's queries go half to the dev ground truth,
half to the test one. From a ranking: `position` (1 = top), `score_linear` = largest position + 1 - position
(101 - position in the release), `score_reciprocal` = 1 / position, `no_score` = 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gcl_nb.data.schema import SPLIT_CORPUS, SPLIT_FILE_STEMS

QUERY_SHARE = 0.8  # queries on side 0
PRODUCT_SHARE = 0.5  # products in corpus half 1
DEV_SHARE = 0.5  # a split's queries in the dev ground truth
#: the release's largest position: its score_linear is 101 - position
RELEASE_LARGEST_POSITION = 100


def _drawn(n: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """True for round(share * n) of n items drawn at random."""
    drawn = np.zeros(n, dtype=bool)
    drawn[rng.permutation(n)[: int(round(share * n))]] = True
    return drawn


def query_sides(n_queries: int, rng: np.random.Generator, share: float = QUERY_SHARE) -> np.ndarray:
    """Each query's side: 0 for `share` of them drawn at random, 1 for the rest."""
    return np.where(_drawn(n_queries, share, rng), 0, 1)


def product_halves(n_products: int, rng: np.random.Generator) -> np.ndarray:
    """Each product's corpus half: 1 for half of them drawn at random, 2 for the rest."""
    return np.where(_drawn(n_products, PRODUCT_SHARE, rng), 1, 2)


def dev_queries(n_queries: int, rng: np.random.Generator) -> np.ndarray:
    """True for the queries whose ground truth goes to the dev file, False for the test file's."""
    return rng.random(n_queries) < DEV_SHARE


def split_side_and_half(split: str) -> tuple[int, int]:
    """(query side, product half) of a split's rows: its file stem is query_{side}_product_id_{half - 1}."""
    return int(SPLIT_FILE_STEMS[split].split("_")[1]), SPLIT_CORPUS[split]


def positions_by_score(queries: pd.Series, scores: pd.Series) -> np.ndarray:
    """Each row's rank within its query's rows by score: 1 for the highest, ties in row order."""
    ranks = scores.groupby(queries.to_numpy(), sort=False).rank(method="first", ascending=False)
    return ranks.to_numpy(dtype=np.int64)


def linear_from_position(position: np.ndarray, largest_position: int) -> np.ndarray:
    """score_linear of a ranking: largest_position + 1 - position (linear, 1 for the last position)."""
    return largest_position + 1 - position


def reciprocal_and_no_score(position: np.ndarray) -> dict[str, np.ndarray]:
    """The columns derived from the position: score_reciprocal = 1 / position, no_score = 1 (whole)."""
    position = np.asarray(position)
    return {"score_reciprocal": 1.0 / position, "no_score": np.ones(len(position), dtype=np.int64)}

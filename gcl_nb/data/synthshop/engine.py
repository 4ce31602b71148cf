"""The simulated shopping engine: graded attribute match, then popularity and noise within a match level.

relevance(q, p) = sum over the query's attributes a of  w_a * sim_a(q_a, p_a), with sim_a = 1 for the same
value, partial credit for related values (RELATED_CREDIT: same category group, shared colour family), else 0.
Ranking key = level(q, p) + u(q, p) where level = round(LEVEL_SCALE * relevance) (LEVEL_SCALE = 20: an integer,
as weights are multiples of 0.05) and u = 0.5 + 0.49 * tanh(t / 4) in (0, 1) with
    t = popularity_strength * zscore(log popularity_p) + noise_strength * N(0, 1)
so popularity and noise only order products *within* one relevance level. The top `top_n` are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gcl_nb.data.synthshop.catalog import QUERY_ATTRIBUTES, related_categories, related_colours
from gcl_nb.data.synthshop.random_streams import Stream, stream_rng

#: importance of each attribute in the relevance sum (category most important).
WEIGHTS = {"category": 4.0, "colour": 2.0, "pattern": 1.5, "brand": 1.25, "material": 1.0, "style": 0.75}
#: share of an attribute's weight earned by a related (not equal) value.
RELATED_CREDIT = {"category": 0.35, "colour": 0.4}
#: coarse match levels of a (query, product) pair, worst to best (see `match_levels`).
MATCH_LEVELS = ("other", "related", "category", "partial", "exact")
#: relevance levels per unit of relevance: level = round(LEVEL_SCALE * relevance), the ranking's integer part.
LEVEL_SCALE = 20


def _similarity(values: list[str], related) -> np.ndarray:
    """(V, V) matrix: 1 on the diagonal, 1 for related pairs (scaled later by the credit), else 0."""
    return np.array([[1.0 if a == b else float(related(a, b)) for b in values] for a in values])


@dataclass
class ProductCodes:
    """Products as integer codes per attribute, for vectorised matching."""

    vocab: dict[str, list[str]]
    codes: dict[str, np.ndarray]
    pop_z: np.ndarray

    @classmethod
    def from_catalog(cls, products: pd.DataFrame) -> "ProductCodes":
        vocab = {a: sorted(products[a].unique()) for a in QUERY_ATTRIBUTES}
        codes = {a: np.searchsorted(vocab[a], products[a].to_numpy()).astype(np.int32) for a in QUERY_ATTRIBUTES}
        logp = np.log(products["popularity"].to_numpy(float))
        pop_z = (logp - logp.mean()) / (logp.std() or 1.0)
        return cls(vocab, codes, pop_z)

    def __len__(self) -> int:
        return len(self.pop_z)

    def code(self, attribute: str, value: str) -> int:
        return self.vocab[attribute].index(value)


class Engine:
    """Ranks every product for a query (a dict attribute -> value)."""

    def __init__(
        self, products: pd.DataFrame, top_n: int, popularity_strength: float, noise_strength: float, seed: int
    ):
        self.p = ProductCodes.from_catalog(products)
        self.top_n, self.seed = top_n, seed
        self.popularity_strength, self.noise_strength = popularity_strength, noise_strength
        cats, cols = self.p.vocab["category"], self.p.vocab["colour"]
        self.sim = {
            "category": np.where(
                np.eye(len(cats)) > 0, 1.0, RELATED_CREDIT["category"] * _similarity(cats, related_categories)
            ),
            "colour": np.where(
                np.eye(len(cols)) > 0, 1.0, RELATED_CREDIT["colour"] * _similarity(cols, related_colours)
            ),
        }

    def exact_mask(self, query: dict[str, str]) -> np.ndarray:
        mask = np.ones(len(self.p), bool)
        for a, v in query.items():
            mask &= self.p.codes[a] == self.p.code(a, v)
        return mask

    def attribute_credit(self, a: str, value: str) -> np.ndarray:
        """sim_a(value, p_a) for every product: 1, partial credit, or 0."""
        c = self.p.code(a, value)
        if a in self.sim:
            return self.sim[a][c][self.p.codes[a]]
        return (self.p.codes[a] == c).astype(float)

    def relevance(self, query: dict[str, str]) -> np.ndarray:
        return sum(WEIGHTS[a] * self.attribute_credit(a, v) for a, v in query.items())

    def match_levels(self, query: dict[str, str]) -> np.ndarray:
        """Index into MATCH_LEVELS per product. With a category in the query: exact (every attribute equal),
        partial (category equal, some other attribute equal or related), category (only the category equal),
        related (related category), other. Without: exact, partial (some attribute equal), related (only
        related values), other."""
        credit = {a: self.attribute_credit(a, v) for a, v in query.items()}
        exact = np.all([c == 1.0 for c in credit.values()], axis=0)
        others = [c for a, c in credit.items() if a != "category"] or [np.zeros(len(self.p))]
        other_equal = np.any([c == 1.0 for c in others], axis=0)
        other_credit = np.any([c > 0 for c in others], axis=0)
        if "category" in credit:
            cat = credit["category"]
            conditions = [exact, (cat == 1.0) & other_credit, cat == 1.0, cat > 0]
        else:
            conditions = [exact, other_equal, other_credit, np.zeros(len(self.p), bool)]
        return np.select(conditions, [4, 3, 2, 1] if "category" in credit else [4, 3, 1, 0], 0)

    def rank(self, query: dict[str, str], query_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-`top_n` product indices (best first) and their relevance, for the query's own noise stream."""
        rel = self.relevance(query)
        rng = stream_rng(self.seed, Stream.RANKING_NOISE, query_index)
        t = self.popularity_strength * self.p.pop_z + self.noise_strength * rng.standard_normal(len(self.p))
        key = np.rint(rel * LEVEL_SCALE) + 0.5 + 0.49 * np.tanh(t / 4)
        n = min(self.top_n, len(key))
        kth = np.partition(key, len(key) - n)[len(key) - n]
        cand = np.flatnonzero(key >= kth)  # index order, so exact ties keep product order (stable sort)
        top = cand[np.argsort(-key[cand], kind="stable")[:n]]
        return top, rel[top]

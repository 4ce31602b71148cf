"""Shopper queries of 1-4 attributes ("red striped shirt", "acme leather bag", "dotted mug").

A query is sampled from a product's own attributes (so it has at least one exact match). Queries with more exact
matches than `max_exact` get another attribute of that product until they are specific enough; if four are not
enough the query is dropped. This keeps exact matches rarer than the engine's top N, so every result list spans
several match levels (exact -> partial -> same category -> related) and the graded scores carry signal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gcl_nb.data.synthshop.catalog import CATEGORIES, COLOURS, PATTERNS, QUERY_ATTRIBUTES
from gcl_nb.data.synthshop.engine import Engine

#: how often each non-category attribute is picked for a query.
ATTRIBUTE_PICK = {"colour": 0.30, "pattern": 0.20, "brand": 0.20, "material": 0.15, "style": 0.15}
N_ATTRIBUTES_P = (0.15, 0.40, 0.30, 0.15)  # P(1), P(2), P(3), P(4) attributes asked first
FILLERS = ("cheap", "best", "sale", "online", "new")  # shopper words that carry no attribute
MAX_ATTRIBUTES = 4


def phrase(query: dict[str, str], rng: np.random.Generator) -> str:
    """Shopper wording: attributes in typing order, synonyms, an occasional filler word."""
    words = {
        "category": lambda v: CATEGORIES[v][1],
        "colour": lambda v: COLOURS[v][2],
        "pattern": lambda v: PATTERNS[v],
        "brand": lambda v: [v],
        "material": lambda v: [v],
        "style": lambda v: [v],
    }
    parts = []
    for a in QUERY_ATTRIBUTES:
        if a in query:
            options = words[a](query[a])
            parts.append(options[int(rng.integers(len(options)))])
    if rng.random() < 0.15:
        filler = FILLERS[int(rng.integers(len(FILLERS)))]
        parts = [filler] + parts if filler in ("cheap", "best", "new") else parts + [filler]
    return " ".join(parts)


def _pick_attribute(rng: np.random.Generator, taken: dict, p_category: float) -> str:
    options = [a for a in ("category", *ATTRIBUTE_PICK) if a not in taken]
    weights = np.array([p_category if a == "category" else ATTRIBUTE_PICK[a] for a in options])
    return options[int(rng.choice(len(options), p=weights / weights.sum()))]


def generate_queries(
    products: pd.DataFrame, engine: Engine, n_queries: int, max_exact: int, p_category: float, rng: np.random.Generator
) -> pd.DataFrame:
    """`n_queries` distinct queries: columns query, n_attributes, n_exact and one column per attribute ("" when
    the query does not ask for it)."""
    rows, seen_sets, seen_text = [], set(), set()
    for _ in range(200 * n_queries):
        if len(rows) == n_queries:
            break
        product = products.iloc[int(rng.integers(len(products)))]
        query: dict[str, str] = {}
        if rng.random() < p_category:
            query["category"] = product["category"]
        k = int(rng.choice(len(N_ATTRIBUTES_P), p=N_ATTRIBUTES_P)) + 1
        while len(query) < k:
            a = _pick_attribute(rng, query, 0.0)
            query[a] = product[a]
        n_exact = int(engine.exact_mask(query).sum())
        while n_exact > max_exact and len(query) < MAX_ATTRIBUTES:
            a = _pick_attribute(rng, query, p_category * 2)
            query[a] = product[a]
            n_exact = int(engine.exact_mask(query).sum())
        key = frozenset(query.items())
        if n_exact > max_exact or key in seen_sets:
            continue
        text = phrase(query, rng)
        if text in seen_text:
            continue
        seen_sets.add(key)
        seen_text.add(text)
        rows.append(
            {
                "query": text,
                **{a: query.get(a, "") for a in QUERY_ATTRIBUTES},
                "n_attributes": len(query),
                "n_exact": n_exact,
            }
        )
    if len(rows) < n_queries:
        raise ValueError(
            f"could only sample {len(rows)} of {n_queries} distinct queries from "
            f"{len(products)} products: lower n_queries or raise n_products / top_n"
        )
    return pd.DataFrame(rows)

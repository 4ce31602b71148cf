"""MAP@k as trec_eval `map_cut.k` (relevant = grade >= 1).

    AP@k = (1 / R) * sum_{r <= k, rel_r} P@r,   P@r = (# relevant in ranks 1..r) / r
    R = the query's number of judged documents with grade >= 1 (0 -> AP = 0)
"""
from __future__ import annotations

import numpy as np

from .arrays import Qrels, RankedGrades, Run


def map_values(gains: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-query AP@k from rank-ordered `gains` (n, depth) and the number of relevant documents (n,)."""
    rel = gains[:, :k] >= 1
    precision_at_r = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    hits = (precision_at_r * rel).sum(axis=1)
    return np.divide(hits, n_relevant, out=np.zeros_like(hits), where=n_relevant > 0)


def map_at(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean average precision at k over the qrels' queries ({qid: AP@k} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(map_values(ranked.gains, ranked.n_relevant, k), per_query)

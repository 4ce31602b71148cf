"""MRR@k: reciprocal rank of the first document with grade > 0 within the top k (0 if none), as BEIR's
`mrr` used by the official Marqo-GS evaluation.

    RR@k = 1 / min{r <= k : g_r > 0}
"""
from __future__ import annotations

import numpy as np

from .arrays import Qrels, RankedGrades, Run


def mrr_values(gains: np.ndarray, k: int) -> np.ndarray:
    """Per-query reciprocal rank at k from rank-ordered `gains` (n, depth)."""
    rel = gains[:, :k] > 0
    found = rel.any(axis=1)
    first = rel.argmax(axis=1) if rel.shape[1] else np.zeros(len(rel), dtype=int)
    return np.where(found, 1.0 / (first + 1), 0.0)


def mrr(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean reciprocal rank at k over the qrels' queries ({qid: RR@k} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(mrr_values(ranked.gains, k), per_query)

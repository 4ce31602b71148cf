"""Recall@k as trec_eval `recall.k` (relevant = grade >= 1).

    Recall@k = (# relevant in ranks 1..k) / R,   R = number of judged documents with grade >= 1 (0 -> 0)

References:
    - trec_eval 9.0.x (https://github.com/usnistgov/trec_eval), measure `recall`.
    - C. D. Manning, P. Raghavan, H. Schütze. Introduction to Information Retrieval, section 8.4. CUP, 2008.
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run


def recall_values(ranked: RankedGrades, k: int) -> np.ndarray:
    """Per-query Recall@k."""
    hits = ranked.relevant_within(k).sum(axis=1).astype(np.float64)
    n_relevant = ranked.n_relevant
    return np.divide(hits, n_relevant, out=np.zeros_like(hits), where=n_relevant > 0)


def recall(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean Recall@k over the qrels' queries ({qid: value} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(recall_values(ranked, k), per_query)

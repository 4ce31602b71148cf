"""MAP@k as trec_eval `map_cut.k` (relevant = grade >= 1).

    AP@k = (1 / R) * sum_{r <= k, rel_r} P@r,   P@r = (# relevant in ranks 1..r) / r
    R = the query's number of judged documents with grade >= 1 (0 -> AP = 0)

References:
    - trec_eval 9.0.x (https://github.com/usnistgov/trec_eval), measure `map_cut`.
    - C. D. Manning, P. Raghavan, H. Schütze. Introduction to Information Retrieval, section 8.4. CUP, 2008.
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run


def map_values(ranked: RankedGrades, k: int) -> np.ndarray:
    """Per-query AP@k."""
    rel = ranked.relevant_within(k)
    precision_sum = (np.cumsum(rel, axis=1) / ranked.hit_ranks * rel).sum(axis=1)
    n_relevant = ranked.n_relevant
    return np.divide(precision_sum, n_relevant, out=np.zeros_like(precision_sum), where=n_relevant > 0)


def mean_average_precision(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean average precision at k over the qrels' queries ({qid: AP@k} with `per_query`). Named in full, not
    `map` like `ndcg` or `mrr`, so that importing it does not shadow Python's `map`."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(map_values(ranked, k), per_query)

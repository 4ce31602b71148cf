"""Precision@k as trec_eval `P.k` (relevant = grade >= 1; always divided by k, even for shorter runs).

    P@k = (# relevant in ranks 1..k) / k

References:
    - trec_eval 9.0.x (https://github.com/usnistgov/trec_eval), measure `P`.
    - C. D. Manning, P. Raghavan, H. Schütze. Introduction to Information Retrieval, section 8.4. CUP, 2008.
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run


def precision_values(ranked: RankedGrades, k: int) -> np.ndarray:
    """Per-query P@k."""
    return ranked.relevant_within(k).sum(axis=1) / k


def precision(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean P@k over the qrels' queries ({qid: value} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(precision_values(ranked, k), per_query)

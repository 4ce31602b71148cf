"""Rank-Biased Precision over the whole ranked list with grades normalised by the query's top grade.

    RBP_p = (1 - p) * sum_r (g_r / gmax) * p^{r-1}

(the official Marqo-GS definition; 0 for a query without a positive judged grade). ranx's `rbp.p`
uses the raw grade: ranx = gmax * this, per query.

References:
    - A. Moffat, J. Zobel. Rank-biased precision for measurement of retrieval effectiveness. ACM TOIS 27(1), 2008.
    - T. Zhu, M. C. Jung, J. Clark. Generalized Contrastive Learning for Multi-Modal Retrieval and Ranking.
      arXiv:2404.08535; the official evaluation, marqo-ai/GCL evals/eval_gs_v1.py, `calculate_individual_rbp`.
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run


def rbp_values(ranked: RankedGrades, p: float) -> np.ndarray:
    """Per-query RBP_p."""
    if not 0 < p < 1:
        raise ValueError(f"RBP persistence p must be in (0, 1), got {p}")
    raw = (1 - p) * (ranked.hit_grades * p ** (ranked.hit_ranks - 1.0)).sum(axis=1)
    gmax = ranked.gmax
    return np.divide(raw, gmax, out=np.zeros_like(raw), where=gmax > 0)


def rbp(qrels: Qrels, run: Run, p: float, per_query: bool = False) -> float | dict:
    """Mean RBP_p over the qrels' queries ({qid: value} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(rbp_values(ranked, p), per_query)

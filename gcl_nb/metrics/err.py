"""Expected Reciprocal Rank over the whole ranked list, as the official Marqo-GS evaluation defines it.

    R_r = (2^{g_r} - 1) / 2^{gmax}      gmax = the query's top judged grade
    ERR = sum_r (R_r / r) * prod_{i<r} (1 - R_i)

(0 for a query without a positive judged grade.)

References:
    - O. Chapelle, D. Metzler, Y. Zhang, P. Grinspan. Expected reciprocal rank for graded relevance. CIKM 2009
      (there gmax is the grade scale's maximum; the official evaluation uses the query's top grade).
    - T. Zhu, M. C. Jung, J. Clark. Generalized Contrastive Learning for Multi-Modal Retrieval and Ranking.
      arXiv:2404.08535; the official evaluation, marqo-ai/GCL evals/eval_gs_v1.py, `calculate_individual_err`.
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run


def err_values(ranked: RankedGrades) -> np.ndarray:
    """Per-query ERR (documents with grade 0 have R = 0, so only the hits enter the sum and product)."""
    gmax = ranked.gmax[:, None]
    stop = np.exp2(ranked.hit_grades - gmax) - np.exp2(-gmax)  # (2^g - 1) / 2^gmax, 0 in padding
    reach = np.ones_like(stop)  # prod_{i<r} (1 - R_i)
    reach[:, 1:] = np.cumprod(1.0 - stop[:, :-1], axis=1)
    return (stop * reach / ranked.hit_ranks).sum(axis=1)


def err(qrels: Qrels, run: Run, per_query: bool = False) -> float | dict:
    """Mean ERR over the qrels' queries ({qid: value} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(err_values(ranked), per_query)

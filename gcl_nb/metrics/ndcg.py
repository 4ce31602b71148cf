"""NDCG@k exactly as trec_eval 9.0.x `ndcg_cut.k` (pytrec_eval) computes it.

    DCG@k  = sum_{r=1..min(k, n)} g_r / log2(r + 1)          (linear gain g_r = grade at rank r; `dcg`)
    IDCG@k = the same sum over the query's judged grades sorted descending
    NDCG@k = DCG@k / IDCG@k   (0 when IDCG@k = 0)

References:
    - K. Järvelin, J. Kekäläinen. Cumulated gain-based evaluation of IR techniques. ACM TOIS 20(4), 2002.
    - trec_eval 9.0.x (https://github.com/usnistgov/trec_eval), measure `ndcg_cut` (linear gain, discount
      log2(r + 1); its tie order: see `ranked_grades`).
    - T. Zhu, M. C. Jung, J. Clark. Generalized Contrastive Learning for Multi-Modal Retrieval and Ranking.
      arXiv:2404.08535 (NDCG@10 is its headline metric).
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.dcg import dcg
from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run


def ndcg_values(ranked: RankedGrades, k: int) -> np.ndarray:
    """Per-query NDCG@k."""
    gained = dcg(ranked.top_gains(k))
    idcg = dcg(ranked.ideal[:, :k])
    return np.divide(gained, idcg, out=np.zeros_like(gained), where=idcg > 0)


def ndcg(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean NDCG@k over the qrels' queries ({qid: value} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(ndcg_values(ranked, k), per_query)

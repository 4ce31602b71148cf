"""MRR@k: reciprocal rank of the first document with grade > 0 within the top k (0 if none), as BEIR's
`mrr` used by the official Marqo-GS evaluation.

    RR@k = 1 / min{r <= k : g_r > 0}

References:
    - E. M. Voorhees. The TREC-8 question answering track report. TREC 1999.
    - N. Thakur et al. BEIR: a heterogeneous benchmark for zero-shot evaluation of information retrieval models.
      NeurIPS 2021 Datasets and Benchmarks (its `mrr`, which the official evaluation, marqo-ai/GCL
      evals/eval_gs_v1.py, calls).
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import numpy as np

from gcl_nb.metrics.ranked_grades import NO_RANK, Qrels, RankedGrades, Run


def first_relevant_ranks(ranked: RankedGrades) -> np.ndarray:
    """Per-query 1-based rank of the first retrieved document with grade > 0 (NO_RANK when none is retrieved);
    every hit of a RankedGrades has grade > 0, so it is the first hit."""
    return ranked.hit_ranks[:, 0] if ranked.hit_ranks.shape[1] else np.full(len(ranked.query_ids), NO_RANK)


def mrr_values(ranked: RankedGrades, k: int) -> np.ndarray:
    """Per-query reciprocal rank at k."""
    first = first_relevant_ranks(ranked)
    return np.where(first <= k, 1.0 / first, 0.0)


def mrr(qrels: Qrels, run: Run, k: int, per_query: bool = False) -> float | dict:
    """Mean reciprocal rank at k over the qrels' queries ({qid: RR@k} with `per_query`)."""
    ranked = RankedGrades.from_dicts(qrels, run)
    return ranked.summarise(mrr_values(ranked, k), per_query)

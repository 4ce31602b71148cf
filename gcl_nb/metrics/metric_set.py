"""The official protocol's metric set, computed from one qrels/run conversion.

Column names (`METRIC_COLUMNS`) are the ones used everywhere results are stored. MAP and MRR are cut at
1000, the protocol's top_k; with a shorter run (top_k < 1000) they equal the official MAP@top_k and
MRR@top_k. The official script rounds BEIR metrics to 5 decimals; values here are unrounded.

References:
    - the official evaluation, marqo-ai/GCL evals/eval_gs_v1.py (its summary row: mAP@1000, MRR@1000, NDCG@10,
      ERR, RBP 0.7 / 0.8 / 0.9).
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

import pandas as pd

from gcl_nb.metrics.err import err_values
from gcl_nb.metrics.map import map_values
from gcl_nb.metrics.mrr import mrr_values
from gcl_nb.metrics.ndcg import ndcg_values
from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run
from gcl_nb.metrics.rbp import rbp_values
from gcl_nb.metrics.recall import recall_values

#: every metric of the protocol, per query: the metric columns of every result table
METRIC_COLUMNS = ("ndcg@10", "err", "rbp@0.7", "rbp@0.8", "rbp@0.9", "map@1000", "mrr@1000", "recall@10", "recall@100")
#: the official evaluator's summary row (eval_gs_v1.py): METRIC_COLUMNS without recall
OFFICIAL_METRICS = tuple(m for m in METRIC_COLUMNS if not m.startswith("recall@"))
#: the headline metrics, what the experiment reports show and test by default: the paper's NDCG@10 (the first,
#: which gets the paired tests), ERR (top-heavy, graded) and RBP@0.9
HEADLINE_METRICS = ("ndcg@10", "err", "rbp@0.9")


def metric_table(ranked: RankedGrades) -> pd.DataFrame:
    """Per-query values of METRIC_COLUMNS, indexed by query id (named `query_id`)."""
    columns = {
        "ndcg@10": ndcg_values(ranked, 10),
        "err": err_values(ranked),
        "rbp@0.7": rbp_values(ranked, 0.7),
        "rbp@0.8": rbp_values(ranked, 0.8),
        "rbp@0.9": rbp_values(ranked, 0.9),
        "map@1000": map_values(ranked, 1000),
        "mrr@1000": mrr_values(ranked, 1000),
        "recall@10": recall_values(ranked, 10),
        "recall@100": recall_values(ranked, 100),
    }
    return pd.DataFrame(columns, index=pd.Index(list(ranked.query_ids), name="query_id"))


def metric_set(qrels: Qrels, run: Run, per_query: bool = False) -> dict[str, float] | pd.DataFrame:
    """Means of METRIC_COLUMNS over the qrels' queries, or the per-query table with `per_query`."""
    table = metric_table(RankedGrades.from_dicts(qrels, run))
    if per_query:
        return table
    if table.empty:
        raise ValueError("qrels hold no query: nothing to average")
    return {name: float(v) for name, v in table.mean().items()}

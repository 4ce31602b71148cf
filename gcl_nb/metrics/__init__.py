"""Ranking metrics of the Marqo-GS evaluation protocol, vectorised over queries.

Each metric takes qrels {qid: {docid: grade}} and a run {qid: {docid: score}} and returns the mean
over the qrels' queries, or {qid: value} with `per_query=True`. Array entry points (`*_values`) take
a `RankedGrades`, the judged hits of every query (see `ranked_grades` for ranking, tie and missing-query conventions).
"""

from gcl_nb.metrics.dcg import dcg
from gcl_nb.metrics.err import err, err_values
from gcl_nb.metrics.map import map_values, mean_average_precision
from gcl_nb.metrics.metric_set import (
    HEADLINE_METRICS,
    METRIC_COLUMNS,
    METRICS,
    OFFICIAL_METRICS,
    Metric,
    metric_set,
    metric_table,
)
from gcl_nb.metrics.mrr import first_relevant_ranks, mrr, mrr_values
from gcl_nb.metrics.ndcg import ndcg, ndcg_values
from gcl_nb.metrics.precision import precision, precision_values
from gcl_nb.metrics.ranked_grades import RankedGrades, metric_order
from gcl_nb.metrics.rbp import rbp, rbp_values
from gcl_nb.metrics.recall import recall, recall_values

__all__ = [
    "HEADLINE_METRICS",
    "METRIC_COLUMNS",
    "METRICS",
    "Metric",
    "OFFICIAL_METRICS",
    "RankedGrades",
    "dcg",
    "err",
    "err_values",
    "first_relevant_ranks",
    "map_values",
    "mean_average_precision",
    "metric_order",
    "metric_set",
    "metric_table",
    "mrr",
    "mrr_values",
    "ndcg",
    "ndcg_values",
    "precision",
    "precision_values",
    "rbp",
    "rbp_values",
    "recall",
    "recall_values",
]

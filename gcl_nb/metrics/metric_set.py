"""The official protocol's metric set, computed from one qrels/run conversion.

`METRICS` is the one list of the metrics every evaluation computes: result column name -> per-query function and
whether the official evaluator's summary row reports it. The result columns (`METRIC_COLUMNS`), the official
summary (`OFFICIAL_METRICS`) and the result-column table of docs/METHOD.md "Metrics" (checked by a test) come from it.
MAP and MRR are cut at 1000, the protocol's top_k; with a shorter run (top_k < 1000) they equal the official
MAP@top_k and MRR@top_k. The official script rounds BEIR metrics to 5 decimals; values here are unrounded.

References:
    - the official evaluation, marqo-ai/GCL evals/eval_gs_v1.py (its summary row: mAP@1000, MRR@1000, NDCG@10,
      ERR, RBP 0.7 / 0.8 / 0.9).
    - docs/METHOD.md "Metrics".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import pandas as pd

from gcl_nb.metrics.err import err_values
from gcl_nb.metrics.map import map_values
from gcl_nb.metrics.mrr import mrr_values
from gcl_nb.metrics.ndcg import ndcg_values
from gcl_nb.metrics.ranked_grades import Qrels, RankedGrades, Run
from gcl_nb.metrics.rbp import rbp_values
from gcl_nb.metrics.recall import recall_values


@dataclass(frozen=True)
class Metric:
    """A result column: `values(ranked)` gives its per-query values; `official`: the official evaluator's summary
    row (eval_gs_v1.py) reports it."""

    values: Callable[[RankedGrades], np.ndarray]
    official: bool


#: every metric of the protocol, by result column, in the tables' order
METRICS: dict[str, Metric] = {
    "ndcg@10": Metric(partial(ndcg_values, k=10), official=True),
    "err": Metric(err_values, official=True),
    "rbp@0.7": Metric(partial(rbp_values, p=0.7), official=True),
    "rbp@0.8": Metric(partial(rbp_values, p=0.8), official=True),
    "rbp@0.9": Metric(partial(rbp_values, p=0.9), official=True),
    "map@1000": Metric(partial(map_values, k=1000), official=True),
    "mrr@1000": Metric(partial(mrr_values, k=1000), official=True),
    "recall@10": Metric(partial(recall_values, k=10), official=False),
    "recall@100": Metric(partial(recall_values, k=100), official=False),
}
#: the metric columns of every result table
METRIC_COLUMNS = tuple(METRICS)
#: the official evaluator's summary row
OFFICIAL_METRICS = tuple(name for name, metric in METRICS.items() if metric.official)
#: the headline metrics, what the experiment reports show and test by default: the paper's NDCG@10 (the first,
#: which gets the paired tests), ERR (top-heavy, graded) and RBP@0.9
HEADLINE_METRICS = ("ndcg@10", "err", "rbp@0.9")


def metric_table(ranked: RankedGrades) -> pd.DataFrame:
    """Per-query values of every metric of METRICS, indexed by query id (named `query_id`)."""
    columns = {name: metric.values(ranked) for name, metric in METRICS.items()}
    return pd.DataFrame(columns, index=pd.Index(list(ranked.query_ids), name="query_id"))


def metric_set(qrels: Qrels, run: Run, per_query: bool = False) -> dict[str, float] | pd.DataFrame:
    """Means of METRIC_COLUMNS over the qrels' queries, or the per-query table with `per_query`."""
    table = metric_table(RankedGrades.from_dicts(qrels, run))
    if per_query:
        return table
    if table.empty:
        raise ValueError("qrels hold no query: nothing to average")
    return {name: float(v) for name, v in table.mean().items()}

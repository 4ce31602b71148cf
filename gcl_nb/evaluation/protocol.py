"""The official Marqo-GS evaluation protocol (docs/METHOD.md "Evaluation protocol"): grades, the query
sample and the qrels of one split.

Per split: grades 1..100 from `score_linear` (`grade_scores`, defined in gcl_nb.data.grades, which SynthShop's
writer shares), `top_q` queries sampled with probability proportional to their grade sum
(`sample_eval_queries`), qrels = each query's rows by grade, at most `top_k` (`build_qrels`). Alternatively
the queries and qrels come from ground-truth files (`_gt_test.json` style, `load_ground_truth`).
gcl_nb.evaluation.split_evaluation runs the protocol against a model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gcl_nb.data.grades import grade_scores
from gcl_nb.data.schema import QUERY_KEY_SUFFIX, DataError

__all__ = ["grade_scores", "sample_eval_queries", "build_qrels", "query_ids", "load_ground_truth"]


def sample_eval_queries(queries: pd.Series, grades: np.ndarray, top_q: int | None, seed: int = 1) -> list[str]:
    """The official test-query sample: query texts in evaluation order.

    Rows are grouped by query key (text + QUERY_KEY_SUFFIX, in sorted order as pandas groupby gives),
    grades summed; n = min(top_q, number of keys) keys are drawn without replacement with probability
    proportional to the sum, then sorted by the sum, descending. The draw is
    `numpy.random.RandomState(seed).choice(keys, n, replace=False, p=sum / sum.sum())`, which is what
    the official `DataFrame.sample(n, weights=..., random_state=1)` ran, so the sampled set is the official
    one; pandas >= 3 refuses such a sample when n * max(p) > 1 (small data), numpy's sequential draw does
    not. The sort here is stable (draw order among equal sums), the official one is pandas' default
    unstable sort: the order within equal grade sums may differ, the set and every mean do not.
    `top_q` None or -1 takes every query.
    """
    frame = pd.DataFrame({"key": queries.astype(str).to_numpy() + QUERY_KEY_SUFFIX, "grade": grades})
    sums = frame.groupby("key")["grade"].sum()
    n = len(sums) if top_q in (None, -1) else min(int(top_q), len(sums))
    weights = sums.to_numpy(dtype=np.float64)
    drawn = np.random.RandomState(seed).choice(len(sums), size=n, replace=False, p=weights / weights.sum())
    drawn = drawn[np.argsort(-weights[drawn], kind="stable")]
    return [key[: -len(QUERY_KEY_SUFFIX)] for key in sums.index[drawn]]


def build_qrels(
    split: pd.DataFrame, grades: np.ndarray, queries: Sequence[str], top_k: int
) -> dict[str, dict[str, int]]:
    """{query_id: {product_id: grade}} for `queries` (texts), in that order: each query's rows sorted by
    grade descending (stable: file order among equal grades), at most `top_k` of them."""
    rows = split.assign(grade=grades)
    rows = rows[rows["query"].isin(queries)]
    rows = rows.sort_values("grade", ascending=False, kind="stable")
    rows = rows[rows.groupby("query", sort=False).cumcount() < top_k]
    by_query = {q: dict(zip(g["product_id"], g["grade"].tolist())) for q, g in rows.groupby("query", sort=False)}
    ids = query_ids(split)
    return {ids[q]: by_query[q] for q in queries}


def query_ids(split: pd.DataFrame) -> dict[str, str]:
    """{query text: query_id}. Queries are keyed by their text; load_gs makes query_id one-to-one with it."""
    pairs = split[["query", "query_id"]].drop_duplicates("query")
    return dict(zip(pairs["query"], pairs["query_id"]))


def load_ground_truth(path: str | Path, split: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Qrels from a ground-truth JSON ({query: {product_id: grade}}, file order kept), keyed by query_id.

    A key may be the query text, the text + QUERY_KEY_SUFFIX (the official files) or the query_id.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read ground truth ({err})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise DataError(f"{path}: ground truth must be a JSON object {{query: {{product_id: grade}}}}")
    ids = query_ids(split)
    known_ids = set(ids.values())
    qrels = {}
    for key, judged in raw.items():
        text = key[: -len(QUERY_KEY_SUFFIX)] if key.endswith(QUERY_KEY_SUFFIX) else key
        qid = ids.get(text, key if key in known_ids else None)
        if qid is None:
            raise DataError(
                f"{path}: query {key!r} is not a query (text or query_id) of this split; "
                "use the ground-truth file of the same split"
            )
        qrels[qid] = {str(pid): grade for pid, grade in judged.items()}
    return qrels

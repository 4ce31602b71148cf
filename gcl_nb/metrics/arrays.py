"""Qrels + run -> dense rank-ordered grade arrays: the one conversion every metric shares.

Conventions (trec_eval 9.0.x, so NDCG, MAP, recall and P match pytrec_eval exactly):
- A run is ranked by score descending; ties are broken by document id descending (code-point order,
  which is trec_eval's `strcmp` on UTF-8 ids). The official ERR/RBP code keeps the retrieval order for
  ties instead; with real-valued similarity scores exact ties are rare, and one rule serves all metrics.
- Ids are compared as given (use strings, as the data loaders do: 1 and "1" are different ids).
- A retrieved document missing from the query's qrels has grade 0.
- A query of the qrels absent from the run (or with an empty run) scores 0 on every metric and counts
  in the mean; so does a query whose qrels hold no positive grade (trec_eval skips such a query, the
  official ERR code fails on it).
- Errors (ValueError naming the query and document): a run query missing from the qrels, a NaN score,
  a NaN or negative grade, a document twice in one query's run.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

Qrels = Mapping[Hashable, Mapping[Hashable, float]]
Run = Mapping[Hashable, Mapping[Hashable, float]]


@dataclass(frozen=True)
class RankedGrades:
    """Grades of each query's ranked run, as dense arrays.

    query_ids: the qrels' query ids, in qrels order (row i of every array).
    gains: (n_queries, depth) float64, gains[i, r] = grade of query i's document at rank r + 1
        (0 when unjudged, or when the run has fewer than r + 1 documents); depth = longest run.
    n_retrieved: (n_queries,) int64, length of each query's run.
    ideal: (n_queries, m) float64, each query's judged grades sorted descending, 0-padded.
    """

    query_ids: tuple
    gains: np.ndarray
    n_retrieved: np.ndarray
    ideal: np.ndarray

    @property
    def gmax(self) -> np.ndarray:
        """Top judged grade per query (0 for a query without judged documents)."""
        return self.ideal[:, 0] if self.ideal.shape[1] else np.zeros(len(self.query_ids))

    @property
    def n_relevant(self) -> np.ndarray:
        """Number of judged documents with grade >= 1 per query (trec_eval's num_rel)."""
        return (self.ideal >= 1).sum(axis=1)

    def summarise(self, values: np.ndarray, per_query: bool) -> float | dict:
        """Mean of per-query `values` over all queries, or {query_id: value} when `per_query`."""
        if per_query:
            return dict(zip(self.query_ids, values.tolist()))
        if not len(values):
            raise ValueError("qrels hold no query: nothing to average")
        return float(values.mean())

    @classmethod
    def from_dicts(cls, qrels: Qrels, run: Run) -> RankedGrades:
        """From {qid: {docid: grade}} and {qid: {docid: score}}."""
        qids = list(qrels)
        _check_run_queries(qids, list(run))
        per_query = [run.get(q, {}) for q in qids]
        counts = np.fromiter(map(len, per_query), dtype=np.int64, count=len(qids))
        n = int(counts.sum())
        docs = np.fromiter(chain.from_iterable(per_query), dtype=object, count=n)
        scores = np.fromiter(chain.from_iterable(d.values() for d in per_query), dtype=np.float64, count=n)
        run_q = np.repeat(np.arange(len(qids)), counts)
        _check_scores(scores, lambda i: (qids[run_q[i]], docs[i]))

        qrel_q, qrel_docs, qrel_grade = _flatten_qrels(qrels, qids)
        judged = pd.Index(qrel_docs).unique()
        width = len(judged) + 1  # code 0 = never judged
        run_key = run_q * width + judged.get_indexer(docs) + 1
        qrel_key = qrel_q * width + judged.get_indexer(qrel_docs) + 1
        rank = np.arange(n) - (np.cumsum(counts) - counts)[run_q]
        dense_scores = np.full((len(qids), int(counts.max(initial=0))), np.nan)
        dense_scores[run_q, rank] = scores
        dense_keys = np.zeros(dense_scores.shape, dtype=np.int64)
        dense_keys[run_q, rank] = run_key
        dense_docs = np.empty(dense_scores.shape, dtype=object)
        dense_docs[run_q, rank] = docs
        return cls._assemble(qids, dense_scores, dense_keys, qrel_q, qrel_key, qrel_grade,
                             lambda rows, cols: dense_docs[rows, cols])

    @classmethod
    def from_topk(cls, qrels: Qrels, query_ids: Sequence, doc_index: np.ndarray, scores: np.ndarray,
                  doc_ids: pd.Index) -> RankedGrades:
        """From a search result over a corpus whose document ids are `doc_ids` (unique).

        Row i of `doc_index` / `scores` (n_rows, k) is the run of `query_ids[i]`: positions into
        `doc_ids`, -1 for "no document" (padding of a short run). The queries are the qrels' queries,
        in qrels order; a qrels query missing from `query_ids` has an empty run. `doc_ids` is a pandas
        Index so that its hash table is built once and reused across calls.
        """
        qids = list(qrels)
        doc_index, scores = np.asarray(doc_index), np.asarray(scores, dtype=np.float64)
        if doc_index.ndim != 2 or doc_index.shape != scores.shape or doc_index.shape[0] != len(query_ids):
            raise ValueError(f"doc_index {doc_index.shape} and scores {scores.shape} must both be "
                             f"(n_queries, k) with n_queries = len(query_ids) = {len(query_ids)}")
        _check_run_queries(qids, list(query_ids))
        if len(set(query_ids)) != len(query_ids):
            raise ValueError("query_ids lists a query twice: give one row per query")
        if not doc_ids.is_unique:
            raise ValueError("doc_ids has duplicates: a corpus lists each document once")
        if doc_index.size and (doc_index.max() >= len(doc_ids) or doc_index.min() < -1):
            raise ValueError(f"doc_index must hold positions 0..{len(doc_ids) - 1} (or -1 for padding)")
        rows = pd.Index(qids).get_indexer(list(query_ids))
        index = np.full((len(qids), doc_index.shape[1]), -1, dtype=np.int64)
        index[rows] = doc_index
        dense_scores = np.full(index.shape, np.nan)
        dense_scores[rows] = scores
        valid = index >= 0
        dense_scores[~valid] = np.nan
        flat_rows, flat_cols = np.nonzero(valid)
        _check_scores(dense_scores[valid], lambda i: (qids[flat_rows[i]], doc_ids[index[flat_rows[i], flat_cols[i]]]))
        _check_unique_per_row(index, lambda r, d: (qids[r], doc_ids[d]))

        qrel_q, qrel_docs, qrel_grade = _flatten_qrels(qrels, qids)
        width = len(doc_ids) + 1  # code 0 = padding
        qrel_code = doc_ids.get_indexer(qrel_docs)
        qrel_key = np.where(qrel_code >= 0, qrel_q * width + qrel_code + 1, -1)  # -1: not in corpus
        run_key = np.arange(len(qids))[:, None] * width + index + 1
        return cls._assemble(qids, dense_scores, run_key, qrel_q, qrel_key, qrel_grade,
                             lambda r, c: np.asarray(doc_ids[index[r, c]], dtype=object))

    @classmethod
    def _assemble(cls, qids: list, scores: np.ndarray, run_key: np.ndarray, qrel_q: np.ndarray,
                  qrel_key: np.ndarray, qrel_grade: np.ndarray,
                  doc_at: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> RankedGrades:
        """Rank each row of `scores` (n_q, depth; NaN = no document) and look up the grades.

        run_key[i, j] identifies (query i, its j-th document) and equals qrel_key of the same judged
        pair; doc_at(rows, cols) gives document ids (only called to break score ties).
        """
        order = _rank_order(scores, doc_at)
        gains = _lookup(np.take_along_axis(run_key, order, axis=1), qrel_key, qrel_grade)
        order = np.lexsort((-qrel_grade, qrel_q))
        counts = np.bincount(qrel_q, minlength=len(qids))
        rank = np.arange(len(order)) - (np.cumsum(counts) - counts)[qrel_q[order]]
        ideal = np.zeros((len(qids), int(counts.max(initial=0))))
        ideal[qrel_q[order], rank] = qrel_grade[order]
        return cls(tuple(qids), gains, (~np.isnan(scores)).sum(axis=1), ideal)


def _rank_order(scores: np.ndarray, doc_at: Callable) -> np.ndarray:
    """Per-row permutation: score descending, NaN (no document) last, ties by document id descending.

    Document ids are compared only in rows with tied scores (string sorting is the costly part).
    """
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.take_along_axis(scores, order, axis=1)
    tied_next = ranked[:, 1:] == ranked[:, :-1]
    rows = np.flatnonzero(tied_next.any(axis=1))
    if not len(rows):
        return order
    tied = np.zeros((len(rows), scores.shape[1]), dtype=bool)
    tied[:, :-1] |= tied_next[rows]
    tied[:, 1:] |= tied_next[rows]
    r, c = np.nonzero(tied)
    names = np.array([str(x) for x in doc_at(rows[r], order[rows[r], c])], dtype=str)
    tie_key = np.zeros(tied.shape, dtype=np.int64)
    tie_key[r, c] = -np.unique(names, return_inverse=True)[1]
    resort = np.lexsort((tie_key, -ranked[rows]), axis=-1)
    order[rows] = np.take_along_axis(order[rows], resort, axis=1)
    return order


def _flatten_qrels(qrels: Qrels, qids: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query position, document id, grade) per judged pair; rejects NaN and negative grades."""
    judged = [qrels[q] for q in qids]
    counts = np.fromiter(map(len, judged), dtype=np.int64, count=len(qids))
    n = int(counts.sum())
    docs = np.fromiter(chain.from_iterable(judged), dtype=object, count=n)
    grades = np.fromiter(chain.from_iterable(d.values() for d in judged), dtype=np.float64, count=n)
    qrel_q = np.repeat(np.arange(len(qids)), counts)
    bad = np.flatnonzero(np.isnan(grades) | (grades < 0))
    if len(bad):
        i = bad[0]
        raise ValueError(f"qrels grade {grades[i]} for query {qids[qrel_q[i]]!r}, document {docs[i]!r}: "
                         "grades must be numbers >= 0")
    return qrel_q, docs, grades


def _check_run_queries(qrels_ids: list, run_ids: list) -> None:
    unknown = set(run_ids) - set(qrels_ids)
    if unknown:
        shown = ", ".join(repr(q) for q in sorted(unknown, key=str)[:5])
        raise ValueError(f"run has {len(unknown)} query id(s) not in the qrels ({shown}): "
                         "evaluate a run against the qrels of the same queries")


def _check_scores(scores: np.ndarray, where: Callable[[int], tuple]) -> None:
    bad = np.flatnonzero(np.isnan(scores))
    if len(bad):
        query, doc = where(bad[0])
        raise ValueError(f"run score is NaN for query {query!r}, document {doc!r}: "
                         "every retrieved document needs a numeric score")


def _check_unique_per_row(index: np.ndarray, where: Callable[[int, int], tuple]) -> None:
    valid = index >= 0
    keys = pd.Index((np.arange(len(index))[:, None] * (int(index.max(initial=0)) + 1) + index)[valid])
    if not keys.is_unique:
        r, c = np.argwhere(valid)[np.flatnonzero(keys.duplicated())[0]]
        query, doc = where(r, index[r, c])
        raise ValueError(f"query {query!r}: document {doc!r} appears twice in the run; "
                         "a run lists each document at most once per query")


def _lookup(keys: np.ndarray, table_keys: np.ndarray, table_values: np.ndarray) -> np.ndarray:
    """table_values at the position of each key in table_keys (unique where >= 0; negative keys are
    ignored), 0 where absent; keeps the shape of `keys`."""
    keep = table_keys >= 0
    pos = pd.Index(table_keys[keep]).get_indexer(keys.ravel()).reshape(keys.shape)
    return np.where(pos >= 0, table_values[keep][pos], 0.0)

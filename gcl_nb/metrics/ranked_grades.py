"""Qrels + run -> the ranks and grades of each query's judged hits: the one conversion every metric shares.

Every metric of the protocol depends only on where the documents with a grade > 0 land in the ranking
(an unjudged or grade-0 document adds nothing to DCG, ERR, RBP, AP, RR or recall), so a ranked run is
stored as its *hits*: the ranks and grades of its retrieved documents with a grade > 0, a few dozen per
query instead of the top 1000. The formulas then run on arrays ~20x smaller than the run.

Conventions (trec_eval 9.0.x, so NDCG, MAP, recall and P match pytrec_eval exactly; docs/METHOD.md "Ties and
edge cases" compares them with the official evaluation):
- A run is ranked by score descending; ties are broken by document id descending (code-point order of
  str(id), which is trec_eval's `strcmp` on UTF-8 ids). The official ERR/RBP code keeps the retrieval
  order for ties instead; with real-valued similarity scores exact ties are rare, and one rule serves
  all metrics.
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
from itertools import chain, repeat

import numpy as np
import pandas as pd

Qrels = Mapping[Hashable, Mapping[Hashable, float]]
Run = Mapping[Hashable, Mapping[Hashable, float]]

#: rank of a padding slot in `RankedGrades.hit_ranks`: beyond every cut-off, and p ** NO_RANK == 0
NO_RANK = 2**40


@dataclass(frozen=True)
class RankedGrades:
    """Each query's judged hits (retrieved documents with a grade > 0), as dense padded arrays.

    query_ids: the qrels' query ids, in qrels order (row i of every array).
    hit_ranks: (n_queries, m) int64, 1-based ranks of query i's hits, ascending; padded with NO_RANK.
    hit_grades: (n_queries, m) float64, their grades; 0 in padding.
    n_retrieved: (n_queries,) int64, length of each query's run.
    ideal: (n_queries, j) float64, each query's judged grades sorted descending, 0-padded.
    """

    query_ids: tuple
    hit_ranks: np.ndarray
    hit_grades: np.ndarray
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

    def relevant_within(self, k: int) -> np.ndarray:
        """(n_queries, m) bool: hit with grade >= 1 (trec_eval's relevant) at rank <= k."""
        return (self.hit_grades >= 1) & (self.hit_ranks <= k)

    def top_gains(self, k: int) -> np.ndarray:
        """(n_queries, k) grades at ranks 1..k (0 where the document is unjudged, grade 0 or missing)."""
        rows, slots = np.nonzero(self.hit_ranks <= k)
        gains = np.zeros((len(self.query_ids), k))
        gains[rows, self.hit_ranks[rows, slots] - 1] = self.hit_grades[rows, slots]
        return gains

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
        runs = [run.get(q) or {} for q in qids]
        counts = np.fromiter(map(len, runs), dtype=np.int64, count=len(qids))
        scores = np.fromiter(chain.from_iterable(r.values() for r in runs), dtype=np.float64, count=int(counts.sum()))
        starts = np.cumsum(counts) - counts
        run_rows = np.repeat(np.arange(len(qids)), counts)

        def run_entry(i: int) -> tuple:
            row = run_rows[i]
            return qids[row], list(runs[row])[i - starts[row]]

        _check_scores(scores, run_entry)
        dense = np.full((len(qids), int(counts.max(initial=0))), np.inf)
        dense[run_rows, np.arange(len(scores)) - starts[run_rows]] = -scores

        qrel_rows, qrel_docs, qrel_grades = _flatten_qrels(qrels, qids)
        qrel_scores = np.fromiter(
            chain.from_iterable(map(r.get, qrels[q], repeat(np.nan)) for q, r in zip(qids, runs)),
            dtype=np.float64,
            count=len(qrel_rows),
        )  # NaN: not retrieved
        hit = (qrel_grades > 0) & ~np.isnan(qrel_scores)

        def tied_docs(row: int, score: float) -> list:
            return [d for d, s in runs[row].items() if s == score]

        return cls._assemble(
            qids,
            np.sort(dense, axis=1),
            counts,
            qrel_rows[hit],
            qrel_docs[hit],
            qrel_scores[hit],
            qrel_grades[hit],
            tied_docs,
            qrel_rows,
            qrel_grades,
        )

    @classmethod
    def from_topk(
        cls, qrels: Qrels, query_ids: Sequence, doc_index: np.ndarray, scores: np.ndarray, doc_ids: pd.Index
    ) -> RankedGrades:
        """From a search result over a corpus whose document ids are `doc_ids` (unique).

        Row i of `doc_index` / `scores` (n_rows, k) is the run of `query_ids[i]`: positions into
        `doc_ids`, -1 for "no document" (padding of a short run). The queries are the qrels' queries,
        in qrels order; a qrels query missing from `query_ids` has an empty run. `doc_ids` is a pandas
        Index so that its hash table is built once and reused across calls.
        """
        qids = list(qrels)
        doc_index, scores = np.asarray(doc_index), np.asarray(scores, dtype=np.float64)
        if doc_index.ndim != 2 or doc_index.shape != scores.shape or doc_index.shape[0] != len(query_ids):
            raise ValueError(
                f"doc_index {doc_index.shape} and scores {scores.shape} must both be "
                f"(n_queries, k) with n_queries = len(query_ids) = {len(query_ids)}"
            )
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
        dense = np.full(index.shape, np.nan)
        dense[rows] = scores
        valid = index >= 0
        dense[~valid] = np.nan
        _check_scores(dense[valid], lambda i: (qids[np.nonzero(valid)[0][i]], doc_ids[index[valid][i]]))
        _check_unique_per_row(index, lambda r, d: (qids[r], doc_ids[d]))

        qrel_rows, qrel_docs, qrel_grades = _flatten_qrels(qrels, qids)
        positive = np.flatnonzero(qrel_grades > 0)
        width = len(doc_ids) + 1  # code 0 = padding
        hit_codes = doc_ids.get_indexer(qrel_docs[positive])
        in_corpus = hit_codes >= 0
        positive, hit_codes = positive[in_corpus], hit_codes[in_corpus]
        hit_table = pd.Index(qrel_rows[positive] * width + hit_codes + 1)
        run_keys = np.arange(len(qids))[:, None] * width + index + 1
        found = hit_table.get_indexer(run_keys[valid])
        run_rows, run_cols = np.nonzero(valid)
        at = np.flatnonzero(found >= 0)
        hits = positive[found[at]]
        hit_rows, hit_cols = run_rows[at], run_cols[at]
        order = np.argsort(hit_rows, kind="stable")
        hit_rows, hit_cols, hits = hit_rows[order], hit_cols[order], hits[order]

        def tied_docs(row: int, score: float) -> list:
            return list(doc_ids[index[row, dense[row] == score]])

        return cls._assemble(
            qids,
            np.sort(np.where(valid, -dense, np.inf), axis=1),
            valid.sum(axis=1),
            hit_rows,
            qrel_docs[hits],
            dense[hit_rows, hit_cols],
            qrel_grades[hits],
            tied_docs,
            qrel_rows,
            qrel_grades,
        )

    @classmethod
    def _assemble(
        cls,
        qids: list,
        neg_sorted: np.ndarray,
        n_retrieved: np.ndarray,
        hit_rows: np.ndarray,
        hit_docs: np.ndarray,
        hit_scores: np.ndarray,
        hit_grades: np.ndarray,
        tied_docs: Callable[[int, float], list],
        qrel_rows: np.ndarray,
        qrel_grades: np.ndarray,
    ) -> RankedGrades:
        """Rank the hits (one per retrieved judged document with grade > 0, `hit_rows` ascending) within
        their rows and pack hits and judged grades into padded arrays.

        neg_sorted: (n_queries, depth) each row's negated scores ascending, +inf padding.
        tied_docs(row, score): the ids of the row's documents with exactly this score.
        """
        ranks = _ranks(neg_sorted, hit_rows, hit_docs, hit_scores, tied_docs)
        order = np.lexsort((ranks, hit_rows))
        hit_ranks = _pad_rows(hit_rows[order], ranks[order], len(qids), NO_RANK, np.int64)
        grades = _pad_rows(hit_rows[order], hit_grades[order], len(qids), 0.0, np.float64)
        ideal = -np.sort(-_pad_rows(qrel_rows, qrel_grades, len(qids), 0.0, np.float64), axis=1)
        return cls(tuple(qids), hit_ranks, grades, np.asarray(n_retrieved, dtype=np.int64), ideal)


def metric_order(run: Mapping[Hashable, float]) -> list:
    """The documents of one query's run {doc_id: score} in the order every metric ranks them: score descending,
    exact ties by document id descending (code-point order of str(id)), as `RankedGrades` counts ranks."""
    return sorted(run, key=lambda doc: (run[doc], str(doc)), reverse=True)


def _ranks(
    neg_sorted: np.ndarray,
    hit_rows: np.ndarray,
    hit_docs: np.ndarray,
    hit_scores: np.ndarray,
    tied_docs: Callable[[int, float], list],
) -> np.ndarray:
    """1-based rank of each hit: 1 + documents scored higher + documents of equal score and greater id."""
    bounds = np.searchsorted(hit_rows, np.arange(len(neg_sorted) + 1))
    ahead = np.empty(len(hit_rows), dtype=np.int64)
    tie_size = np.empty(len(hit_rows), dtype=np.int64)
    for row in np.flatnonzero(np.diff(bounds)):
        lo, hi = bounds[row], bounds[row + 1]
        ahead[lo:hi] = np.searchsorted(neg_sorted[row], -hit_scores[lo:hi], side="left")
        tie_size[lo:hi] = np.searchsorted(neg_sorted[row], -hit_scores[lo:hi], side="right") - ahead[lo:hi]
    for i in np.flatnonzero(tie_size > 1):
        name = str(hit_docs[i])
        ahead[i] += sum(str(d) > name for d in tied_docs(hit_rows[i], hit_scores[i]))
    return ahead + 1


def _pad_rows(rows: np.ndarray, values: np.ndarray, n_rows: int, fill, dtype) -> np.ndarray:
    """(n_rows, longest row) array of `values` grouped by `rows` (ascending), in their given order."""
    counts = np.bincount(rows, minlength=n_rows)
    out = np.full((n_rows, int(counts.max(initial=0))), fill, dtype=dtype)
    out[rows, np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]] = values
    return out


def _flatten_qrels(qrels: Qrels, qids: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query position, document id, grade) per judged pair; rejects NaN and negative grades."""
    judged = [qrels[q] for q in qids]
    counts = np.fromiter(map(len, judged), dtype=np.int64, count=len(qids))
    n = int(counts.sum())
    docs = np.fromiter(chain.from_iterable(judged), dtype=object, count=n)
    grades = np.fromiter(chain.from_iterable(d.values() for d in judged), dtype=np.float64, count=n)
    qrel_rows = np.repeat(np.arange(len(qids)), counts)
    bad = np.flatnonzero(np.isnan(grades) | (grades < 0))
    if len(bad):
        i = bad[0]
        raise ValueError(
            f"qrels grade {grades[i]} for query {qids[qrel_rows[i]]!r}, document {docs[i]!r}: "
            "grades must be numbers >= 0"
        )
    return qrel_rows, docs, grades


def _check_run_queries(qrels_ids: list, run_ids: list) -> None:
    unknown = set(run_ids) - set(qrels_ids)
    if unknown:
        shown = ", ".join(repr(q) for q in sorted(unknown, key=str)[:5])
        raise ValueError(
            f"run has {len(unknown)} query id(s) not in the qrels ({shown}): "
            "evaluate a run against the qrels of the same queries"
        )


def _check_scores(scores: np.ndarray, where: Callable[[int], tuple]) -> None:
    bad = np.flatnonzero(np.isnan(scores))
    if len(bad):
        query, doc = where(bad[0])
        raise ValueError(
            f"run score is NaN for query {query!r}, document {doc!r}: every retrieved document needs a numeric score"
        )


def _check_unique_per_row(index: np.ndarray, where: Callable[[int, int], tuple]) -> None:
    ordered = np.sort(index, axis=1)
    twice = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if twice.any():
        r, c = np.argwhere(twice)[0]
        query, doc = where(r, ordered[r, c])
        raise ValueError(
            f"query {query!r}: document {doc!r} appears twice in the run; "
            "a run lists each document at most once per query"
        )

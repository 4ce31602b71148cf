"""The evaluation protocol (gcl_nb.evaluation.protocol) run against a model, one table row per split.

Per split: the sampled queries (or ground-truth files) and their qrels; the queries and EVERY document of
`data.corpus_for(split)` (the split's whole corpus half, or with load_gs(corpus="split") the products of its own
rows) are encoded (gcl_nb.evaluation.encoding), the top `top_k` documents retrieved by exact cosine similarity,
and the metric set of gcl_nb.metrics computed.

A model is an encoder for gcl_nb.evaluation.encoding (a MultiFieldEncoder), or a retriever with
`retrieve(queries, corpus, top_k) -> (ids per query, scores per query)` (BM25). Document embeddings are
encoded once per corpus (`EmbeddingCache`), and cached per (model fingerprint, corpus) in `cache_dir`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gcl_nb.data.gs import load_gs
from gcl_nb.data.schema import SPLIT_FILE_STEMS, DataError, check_split
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.embedding_cache import EmbeddingCache
from gcl_nb.evaluation.encoding import encode_queries
from gcl_nb.evaluation.protocol import build_qrels, grade_scores, load_ground_truth, query_ids, sample_eval_queries
from gcl_nb.metrics import METRIC_COLUMNS, RankedGrades, metric_table
from gcl_nb.retrieval.dense import exact_topk

#: n_queries: sampled queries; corpus: "half" or "split" (the documents searched, see gcl_nb.data.load_gs);
#: n_docs: how many documents were searched.
SUMMARY_COLUMNS = ("split", *METRIC_COLUMNS, "n_queries", "corpus", "n_docs")


@dataclass
class SplitResult:
    """Everything one split's evaluation produced: the queries, qrels, the run and the per-query metrics.

    doc_index / scores (n_queries, k): positions into `doc_ids` (-1 = no document), row i for query i.
    ranked: the judged hits of every query, as every metric reads them (gcl_nb.metrics.RankedGrades).
    corpus: "half" (doc_ids = the split's corpus half) or "split" (the products of the split's own rows).
    """

    split: str
    query_ids: list[str]
    queries: list[str]
    qrels: dict[str, dict[str, float]]
    doc_ids: pd.Index
    doc_index: np.ndarray
    scores: np.ndarray
    per_query: pd.DataFrame
    ranked: RankedGrades
    corpus: str = "half"

    def summary(self) -> dict:
        """One row of the split table (SUMMARY_COLUMNS): the metric means, n_queries, corpus scope, n_docs."""
        means = self.per_query[list(METRIC_COLUMNS)].mean()
        return {
            "split": self.split,
            **{c: float(means[c]) for c in METRIC_COLUMNS},
            "n_queries": len(self.per_query),
            "corpus": self.corpus,
            "n_docs": len(self.doc_ids),
        }

    def run(self) -> dict[str, dict[str, float]]:
        """The run as {query_id: {product_id: score}} (for TREC export or other tools)."""
        return {
            q: {self.doc_ids[i]: float(s) for i, s in zip(idx, sc) if i >= 0}
            for q, idx, sc in zip(self.query_ids, self.doc_index, self.scores)
        }


def evaluate_split(
    model,
    data,
    split: str,
    config: EvalConfig = EvalConfig(),
    *,
    doc_embeddings: EmbeddingCache | None = None,
    corpus=None,
) -> SplitResult:
    """Evaluate one split (see the module docstring).

    Args:
        model: an encoder (a MultiFieldEncoder, searched on its own device) or a retriever with `retrieve`.
        data: a GSData holding the split.
        split: the split evaluated (`config.splits` is not used here).
        config: top_q, top_k, ground_truth, batch_size, cache_dir, progress (gcl_nb.evaluation.config).
        doc_embeddings: the model's corpus embeddings, shared across calls (default: a new
            EmbeddingCache(model, config.cache_dir, config.batch_size, config.progress)).
        corpus: the documents searched (default `data.corpus_for(split)`; e.g. the part of it a fusion can
            embed, gcl_nb.evaluation.fusion).
    """
    table = data.split(check_split(split))
    if table.empty:
        raise DataError(f"split {split!r} has no rows: nothing to evaluate")
    ground_truth = _ground_truth_path(data, split, config.ground_truth)
    if ground_truth is not None:
        qrels = load_ground_truth(ground_truth, table)
        texts_by_id = {v: k for k, v in query_ids(table).items()}
        qids = list(qrels)
        texts = [texts_by_id[q] for q in qids]
    else:
        grades = grade_scores(table["score_linear"])
        texts = sample_eval_queries(table["query"], grades, config.top_q)
        qrels = build_qrels(table, grades, texts, config.top_k)
        qids = list(qrels)
    corpus = data.corpus_for(split) if corpus is None else corpus
    return rank_queries(model, split, qids, texts, qrels, corpus, config, doc_embeddings=doc_embeddings)


def rank_queries(
    model,
    split: str,
    query_ids: Sequence[str],
    queries: Sequence[str],
    qrels: Mapping[str, Mapping],
    corpus,
    config: EvalConfig = EvalConfig(),
    *,
    doc_embeddings: EmbeddingCache | None = None,
) -> SplitResult:
    """The search and scoring half of `evaluate_split`, for any queries: the top `config.top_k` documents of
    `corpus` for each query, and each query's metrics against `qrels`.

    Args:
        model, config, doc_embeddings: as in `evaluate_split` (top_k, batch_size, cache_dir, progress are used).
        split: the split named in the result.
        query_ids, queries: the queries' ids (the keys of `qrels`) and texts, in the same order.
        qrels: {query_id: {product_id: grade}} (gcl_nb.evaluation.protocol.build_qrels).
        corpus: the documents searched (a gcl_nb.data Corpus).
    """
    qids, texts = [str(q) for q in query_ids], list(queries)
    doc_ids = pd.Index(corpus.products.index.astype(str))
    if len(doc_ids) == 0:
        raise DataError(f"{corpus.name} (split {split!r}) is empty: nothing to search")
    if hasattr(model, "retrieve"):
        index, scores = _retrieved(model, texts, corpus, doc_ids, config.top_k)
    else:
        if doc_embeddings is None:
            doc_embeddings = EmbeddingCache(model, config.cache_dir, config.batch_size, config.progress)
        elif doc_embeddings.model is not model:
            raise ValueError("doc_embeddings holds the embeddings of another model")
        q_emb = encode_queries(model, texts, batch_size=config.batch_size, progress=config.progress)
        scores, index = exact_topk(
            q_emb, doc_embeddings.documents(corpus), config.top_k, device=getattr(model, "device", "cpu")
        )
        index, scores = index.numpy(), scores.numpy()
    ranked = RankedGrades.from_topk(qrels, qids, index, scores, doc_ids)
    per_query = pd.DataFrame({"split": split, "query_id": qids, "query": texts})
    per_query = pd.concat([per_query, metric_table(ranked).reset_index(drop=True)], axis=1)
    return SplitResult(
        split,
        qids,
        texts,
        dict(qrels),
        doc_ids,
        index,
        scores,
        per_query,
        ranked,
        "half" if corpus.split is None else "split",
    )


def _retrieved(retriever, texts: list[str], corpus, doc_ids: pd.Index, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """A retriever's (ids, scores) per query as (n, k) index / score arrays, -1 / NaN padded."""
    ids, scores = retriever.retrieve(texts, corpus, top_k)
    if len(ids) != len(texts) or len(scores) != len(texts):
        raise ValueError(
            f"retriever returned {len(ids)} id lists and {len(scores)} score lists for {len(texts)} queries"
        )
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    n_scores = np.array([len(row) for row in scores], dtype=np.int64)
    if (lengths != n_scores).any():
        i = int(np.flatnonzero(lengths != n_scores)[0])
        raise ValueError(f"retriever: query {texts[i]!r} has {lengths[i]} ids but {n_scores[i]} scores")
    flat_ids = [str(p) for row in ids for p in row]
    pos = doc_ids.get_indexer(flat_ids)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        query = texts[int(np.searchsorted(np.cumsum(lengths), i, side="right"))]
        raise ValueError(
            f"retriever returned product {flat_ids[i]!r} for query {query!r}, which is not in {corpus.name}"
        )
    rows = np.repeat(np.arange(len(texts)), lengths)
    cols = np.arange(len(pos)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    index = np.full((len(texts), int(lengths.max(initial=0))), -1, dtype=np.int64)
    out = np.full(index.shape, np.nan)
    index[rows, cols] = pos
    out[rows, cols] = np.concatenate([np.asarray(row, dtype=np.float64) for row in scores]) if len(pos) else []
    return index, out


# ------------------------------------------------------------------------------------ all splits
def run_protocol(model, data, config: EvalConfig = EvalConfig()) -> list[SplitResult]:
    """`evaluate_split` for each of `config.splits`, encoding each corpus once.

    data: a GSData or a folder for gcl_nb.data.load_gs (default options).
    """
    if isinstance(data, (str, Path)):
        data = load_gs(data)
    doc_embeddings = (
        None
        if hasattr(model, "retrieve")
        else EmbeddingCache(model, config.cache_dir, config.batch_size, config.progress)
    )
    return [evaluate_split(model, data, split, config, doc_embeddings=doc_embeddings) for split in config.splits]


def _ground_truth_path(data, split: str, ground_truth) -> Path | None:
    """The ground-truth file of `split` named by EvalConfig.ground_truth (None: sample queries)."""
    if ground_truth is None:
        return None
    if isinstance(ground_truth, Mapping):
        if split not in ground_truth:
            raise DataError(f"no ground-truth file given for split {split!r} (given: {', '.join(ground_truth)})")
        return Path(ground_truth[split])
    path = Path(data.root) / f"{SPLIT_FILE_STEMS[split]}_gt_{ground_truth}.json"
    if not path.is_file():
        raise DataError(
            f"{path}: no ground-truth file for split {split!r} (the parquet release has none); "
            "evaluate with ground_truth=None to sample queries as the official script does"
        )
    return path


def summary_table(results: Sequence[SplitResult]) -> pd.DataFrame:
    """One row per split result: SUMMARY_COLUMNS (split, the metric means, n_queries, corpus, n_docs)."""
    return pd.DataFrame([r.summary() for r in results], columns=list(SUMMARY_COLUMNS))


def per_query_table(results: Sequence[SplitResult]) -> pd.DataFrame:
    """The split results' per-query tables stacked: split, query_id, query and each metric column."""
    return pd.concat([r.per_query for r in results], ignore_index=True)


def evaluate(model, data, config: EvalConfig = EvalConfig()) -> pd.DataFrame:
    """The `summary_table` of `run_protocol(model, data, config)`: one row per split.

    For the per-query values too, call `run_protocol` and pass its results to `summary_table` and
    `per_query_table`.
    """
    return summary_table(run_protocol(model, data, config))

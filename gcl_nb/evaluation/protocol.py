"""The official Marqo-GS evaluation protocol (docs/METHOD.md "Evaluation protocol"), one table row per split.

Per split: grades 1..100 from `score_linear` (`grade_scores`), `top_q` queries sampled with probability
proportional to their grade sum (`sample_queries`), qrels = each query's rows by grade, at most `top_k`
(`build_qrels`); the queries and EVERY document of `data.corpus_for(split)` (the split's whole corpus half, or
with load_gs(corpus="split") the products of its own rows) are encoded, the top `top_k` documents retrieved by exact cosine similarity, and the metric set of gcl_nb.metrics computed.
Alternatively the queries and qrels come from ground-truth files (`_gt_test.json` style).

A model is anything with `encode_queries(texts, batch_size, progress)` and
`encode_products(corpus, product_ids, batch_size, progress)` returning L2-normalised (n, d) float tensors,
or a retriever with `retrieve(queries, corpus, top_k) -> (ids per query, scores per query)` (BM25).
Document embeddings are cached per (model fingerprint, corpus) in `cache_dir`.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gcl_nb.data.schema import QUERY_KEY_SUFFIX, SPLIT_FILE_STEMS, SPLITS, DataError, check_split
from gcl_nb.metrics import METRIC_COLUMNS, RankedGrades, metric_table
from gcl_nb.retrieval.dense import exact_topk

#: n_queries: sampled queries; corpus: "half" or "split" (the documents searched, see gcl_nb.data.load_gs);
#: n_docs: how many documents were searched.
SUMMARY_COLUMNS = ("split", *METRIC_COLUMNS, "n_queries", "corpus", "n_docs")
ENCODE_CHUNK = 65536  # products per encode_products call: written to the cache file chunk by chunk


# ------------------------------------------------------------------------------------ protocol steps
def grade_scores(scores: pd.Series) -> np.ndarray:
    """Integer grades 1..100: g = int((s - min) / (max - min) * 99 + 1); 1 everywhere if s is constant."""
    s = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise DataError(f"column {scores.name!r}, row {i}: score {scores.iloc[i]!r} is not a finite number")
    lo, hi = (s.min(), s.max()) if len(s) else (0.0, 0.0)
    if lo == hi:
        return np.ones(len(s), dtype=np.int64)
    return ((s - lo) / (hi - lo) * 99 + 1).astype(np.int64)


def sample_queries(queries: pd.Series, grades: np.ndarray, top_q: int | None, seed: int = 1) -> list[str]:
    """The official test-query sample: query texts in evaluation order.

    Rows are grouped by query key (text + QUERY_KEY_SUFFIX, in sorted order as pandas groupby gives),
    grades summed; n = min(top_q, number of keys) keys are drawn without replacement with probability
    proportional to the sum, then sorted by the sum, descending (stable). The draw is
    `numpy.random.RandomState(seed).choice(keys, n, replace=False, p=sum / sum.sum())`, which is what
    the official `DataFrame.sample(n, weights=..., random_state=1)` ran; pandas >= 3 refuses such a
    sample when n * max(p) > 1 (small data), numpy's sequential draw does not. `top_q` None or -1
    takes every query.
    """
    frame = pd.DataFrame({"key": queries.astype(str).to_numpy() + QUERY_KEY_SUFFIX, "grade": grades})
    sums = frame.groupby("key")["grade"].sum()
    n = len(sums) if top_q in (None, -1) else min(int(top_q), len(sums))
    weights = sums.to_numpy(dtype=np.float64)
    drawn = np.random.RandomState(seed).choice(len(sums), size=n, replace=False, p=weights / weights.sum())
    drawn = drawn[np.argsort(-weights[drawn], kind="stable")]
    return [key[: -len(QUERY_KEY_SUFFIX)] for key in sums.index[drawn]]


def build_qrels(split: pd.DataFrame, grades: np.ndarray, queries: Sequence[str],
                top_k: int) -> dict[str, dict[str, int]]:
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
            raise DataError(f"{path}: query {key!r} is not a query (text or query_id) of this split; "
                            "use the ground-truth file of the same split")
        qrels[qid] = {str(pid): grade for pid, grade in judged.items()}
    return qrels


# ------------------------------------------------------------------------------------ embeddings
def model_fingerprint(model) -> str:
    """Identity of a model's weights and configuration, for the embedding cache.

    Uses `model.fingerprint` (attribute or method) when present, else hashes the state_dict and `config`.
    """
    fp = getattr(model, "fingerprint", None)
    if fp is not None:
        return str(fp() if callable(fp) else fp)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"cannot fingerprint a {type(model).__name__} for the embedding cache: give it a "
                         "`fingerprint` attribute or evaluate with cache_dir=None")
    h = hashlib.sha256(repr(getattr(model, "config", None)).encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def corpus_fingerprint(corpus) -> str:
    """Hash of the corpus half: product ids and every column of `corpus.products`."""
    hashed = pd.util.hash_pandas_object(corpus.products, index=True).to_numpy()
    return hashlib.sha256(f"half{corpus.half}".encode() + hashed.tobytes()).hexdigest()


def encode_corpus(model, corpus, batch_size: int = 256, cache_dir: str | Path | None = None,
                  progress: bool = False) -> np.ndarray:
    """(n_products, d) float32 embeddings of every product of `corpus`, in `corpus.products` order.

    With `cache_dir`, read from / written to `docs-<model>-<corpus>.npy` there (memory-mapped when read).
    """
    ids = corpus.products.index.astype(str).tolist()
    path = None
    if cache_dir is not None:
        key = hashlib.sha256((model_fingerprint(model) + corpus_fingerprint(corpus)).encode()).hexdigest()[:24]
        path = Path(cache_dir) / f"docs-half{corpus.half}-{key}.npy"
        if path.is_file():
            cached = np.load(path, mmap_mode="r")
            if cached.shape[0] == len(ids):
                return cached
    if not ids:
        raise ValueError(f"corpus half {corpus.half} is empty: nothing to encode")
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy") if path is not None else None
    out = None
    for start in range(0, len(ids), ENCODE_CHUNK):
        emb = model.encode_products(corpus, ids[start:start + ENCODE_CHUNK], batch_size=batch_size,
                                    progress=progress).float().cpu().numpy()
        if out is None:
            shape = (len(ids), emb.shape[1])
            if tmp is None:
                out = np.empty(shape, dtype=np.float32)
            else:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        out[start:start + len(emb)] = emb
    if tmp is None:
        return out
    out.flush()
    del out
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


# ------------------------------------------------------------------------------------ one split
@dataclass
class SplitResult:
    """Everything one split's evaluation produced: the queries, qrels, the run and the per-query metrics.

    doc_index / scores (n_queries, k): positions into `doc_ids` (-1 = no document), row i for query i.
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
    corpus: str = "half"

    def summary(self) -> dict:
        """One row of the split table (SUMMARY_COLUMNS): the metric means, n_queries, corpus scope, n_docs."""
        means = self.per_query[list(METRIC_COLUMNS)].mean()
        return {"split": self.split, **{c: float(means[c]) for c in METRIC_COLUMNS}, "n_queries": len(self.per_query),
                "corpus": self.corpus, "n_docs": len(self.doc_ids)}

    def run(self) -> dict[str, dict[str, float]]:
        """The run as {query_id: {product_id: score}} (for TREC export or other tools)."""
        return {q: {self.doc_ids[i]: float(s) for i, s in zip(idx, sc) if i >= 0}
                for q, idx, sc in zip(self.query_ids, self.doc_index, self.scores)}


def evaluate_split(model, data, split: str, top_q: int | None = 2000, top_k: int = 1000,
                   ground_truth: str | Path | None = None, batch_size: int = 256, cache_dir=None,
                   progress: bool = False, search_device: str = "cpu",
                   doc_embeddings: dict | None = None) -> SplitResult:
    """Evaluate one split (see the module docstring) against `data.corpus_for(split)`; `doc_embeddings`
    memoises corpus embeddings across calls ({(corpus half, corpus split): array})."""
    table = data.split(check_split(split))
    if table.empty:
        raise DataError(f"split {split!r} has no rows: nothing to evaluate")
    if ground_truth is not None:
        qrels = load_ground_truth(ground_truth, table)
        texts_by_id = {v: k for k, v in query_ids(table).items()}
        qids = list(qrels)
        texts = [texts_by_id[q] for q in qids]
    else:
        grades = grade_scores(table["score_linear"])
        texts = sample_queries(table["query"], grades, top_q)
        qrels = build_qrels(table, grades, texts, top_k)
        qids = list(qrels)
    corpus = data.corpus_for(split)
    doc_ids = pd.Index(corpus.products.index.astype(str))
    if len(doc_ids) == 0:
        raise DataError(f"{corpus.name} (split {split!r}) is empty: nothing to search")
    if hasattr(model, "retrieve"):
        index, scores = _retrieved(model, texts, corpus, doc_ids, top_k)
    else:
        memo = {} if doc_embeddings is None else doc_embeddings
        key = (corpus.half, corpus.split)
        if key not in memo:
            memo[key] = encode_corpus(model, corpus, batch_size, cache_dir, progress)
        q_emb = model.encode_queries(texts, batch_size=batch_size, progress=progress)
        scores, index = exact_topk(q_emb.float(), memo[key], top_k, device=search_device)
        index, scores = index.numpy(), scores.numpy()
    table_pq = metric_table(RankedGrades.from_topk(qrels, qids, index, scores, doc_ids))
    per_query = pd.DataFrame({"split": split, "query_id": qids, "query": texts})
    per_query = pd.concat([per_query, table_pq.reset_index(drop=True)], axis=1)
    return SplitResult(split, qids, texts, qrels, doc_ids, index, scores, per_query,
                       "half" if corpus.split is None else "split")


def _retrieved(retriever, texts: list[str], corpus, doc_ids: pd.Index, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """A retriever's (ids, scores) per query as (n, k) index / score arrays, -1 / NaN padded."""
    ids, scores = retriever.retrieve(texts, corpus, top_k)
    if len(ids) != len(texts) or len(scores) != len(texts):
        raise ValueError(f"retriever returned {len(ids)} id lists and {len(scores)} score lists "
                         f"for {len(texts)} queries")
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
        raise ValueError(f"retriever returned product {flat_ids[i]!r} for query {query!r}, which is not in "
                         f"{corpus.name}")
    rows = np.repeat(np.arange(len(texts)), lengths)
    cols = np.arange(len(pos)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    index = np.full((len(texts), int(lengths.max(initial=0))), -1, dtype=np.int64)
    out = np.full(index.shape, np.nan)
    index[rows, cols] = pos
    out[rows, cols] = np.concatenate([np.asarray(row, dtype=np.float64) for row in scores]) if len(pos) else []
    return index, out


# ------------------------------------------------------------------------------------ all splits
def run_protocol(model, data, splits: Sequence[str] = SPLITS, top_q: int | None = 2000, top_k: int = 1000,
                 cache_dir=None, progress: bool = False, ground_truth: str | Mapping | None = None,
                 batch_size: int = 256, search_device: str = "cpu") -> list[SplitResult]:
    """`evaluate_split` for each split, encoding each corpus once.

    data: a GSData or a folder for gcl_nb.data.load_gs (default options). ground_truth: None (sample as the official
    script does), "test" / "dev" (the tarball's `<split stem>_gt_<which>.json` files) or {split: path}.
    """
    if isinstance(data, (str, Path)):
        from gcl_nb.data.gs import load_gs
        data = load_gs(data)
    memo: dict = {}
    return [evaluate_split(model, data, split, top_q, top_k, _ground_truth_path(data, split, ground_truth),
                           batch_size, cache_dir, progress, search_device, memo) for split in splits]


def _ground_truth_path(data, split: str, ground_truth) -> Path | None:
    if ground_truth is None:
        return None
    if isinstance(ground_truth, Mapping):
        if split not in ground_truth:
            raise DataError(f"no ground-truth file given for split {split!r} (given: {', '.join(ground_truth)})")
        return Path(ground_truth[split])
    if ground_truth not in ("test", "dev"):
        raise ValueError(f"ground_truth={ground_truth!r}: use None, 'test', 'dev' or {{split: path}}")
    path = Path(data.root) / f"{SPLIT_FILE_STEMS[split]}_gt_{ground_truth}.json"
    if not path.is_file():
        raise DataError(f"{path}: no ground-truth file for split {split!r} (the parquet release has none); "
                        "evaluate with ground_truth=None to sample queries as the official script does")
    return path


def evaluate(model, data, splits: Sequence[str] = SPLITS, top_q: int | None = 2000, top_k: int = 1000,
             cache_dir=None, progress: bool = False, return_per_query: bool = False,
             ground_truth: str | Mapping | None = None, batch_size: int = 256,
             search_device: str = "cpu") -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per split: SUMMARY_COLUMNS (split, the metric means, n_queries).

    With `return_per_query`, also the per-query table (split, query_id, query, each metric).
    Arguments as `run_protocol`.
    """
    results = run_protocol(model, data, splits, top_q, top_k, cache_dir, progress, ground_truth,
                           batch_size, search_device)
    summary = pd.DataFrame([r.summary() for r in results], columns=list(SUMMARY_COLUMNS))
    if return_per_query:
        return summary, pd.concat([r.per_query for r in results], ignore_index=True)
    return summary

"""BM25 over product titles (bm25s, Lucene scoring): the paper's text-only baseline, evaluated with the
same protocol through the retriever interface `retrieve(queries, corpus, top_k)`.

    score(q, d) = sum_{t in q} ln(1 + (N - df_t + 0.5) / (df_t + 0.5)) * tf / (tf + k1 (1 - b + b |d| / avgdl))

Tokenisation: lower-cased words of 2+ characters, English stopwords removed, no stemming (PyStemmer is not
a dependency). Like Lucene, only documents sharing a term with the query are returned (score > 0), so a
query may get fewer than top_k documents.
"""

from __future__ import annotations

import logging

import numpy as np

try:
    import bm25s
except ImportError:  # an optional dependency: the `workbench` extra
    bm25s = None

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG, which notebooks then print


class BM25Retriever:
    """BM25 index over `corpus.products["title"]`, built on first use per corpus and kept for the next
    queries on the same corpus (the protocol's splits share two corpus halves). A missing title is an empty
    text: that product matches no query."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, method: str = "lucene", stopwords: str | None = "en"):
        if bm25s is None:
            raise ImportError("BM25Retriever needs bm25s: pip install 'gcl_nb[workbench]'")
        self.k1, self.b, self.method, self.stopwords = k1, b, method, stopwords
        self._corpus = None
        self._index: bm25s.BM25 | None = None

    def __repr__(self) -> str:
        return f"BM25Retriever(k1={self.k1}, b={self.b}, method={self.method!r}, stopwords={self.stopwords!r})"

    def index(self, corpus) -> bm25s.BM25 | None:
        """The BM25 index of `corpus` (built once per corpus object); None when no title has a word to index
        (every title empty or only stopwords: no product matches any query)."""
        if self._corpus is not corpus:
            titles = corpus.products["title"].fillna("").astype(str).tolist()
            if not titles:
                raise ValueError(f"corpus half {corpus.half} is empty: nothing to index")
            tokens = self._tokenize(titles)
            index = None
            if tokens.vocab:
                index = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
                index.index(tokens, show_progress=False)
            self._corpus, self._index = corpus, index
        return self._index

    def retrieve(self, queries: list[str], corpus, top_k: int) -> tuple[list[list[str]], list[np.ndarray]]:
        """Per query: product ids and BM25 scores of its top_k matching titles, best first."""
        index = self.index(corpus)
        k = min(int(top_k), len(corpus.products))
        if index is None:
            return [[] for _ in queries], [np.empty(0) for _ in queries]
        if not queries:
            return [], []
        docs, scores = index.retrieve(self._tokenize(list(queries)), k=k, show_progress=False)
        ids = corpus.products.index.astype(str).to_numpy()
        keep = scores > 0
        return (
            [ids[d[m]].tolist() for d, m in zip(docs, keep)],
            [s[m].astype(np.float64) for s, m in zip(scores, keep)],
        )

    def _tokenize(self, texts: list[str]):
        return bm25s.tokenize(texts, stopwords=self.stopwords, show_progress=False)

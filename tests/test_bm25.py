"""gcl_nb.retrieval.bm25: BM25 title retrieval against the Lucene formula, and through the evaluation protocol."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from gcl_nb.data.schema import SPLITS
from gcl_nb.metrics import METRIC_COLUMNS
from gcl_nb.retrieval.bm25 import BM25Retriever


@dataclass
class Corpus:
    half: int
    products: pd.DataFrame


def corpus_of(titles, half=1):
    return Corpus(half, pd.DataFrame({"title": titles}, index=pd.Index([f"p{i}" for i in range(len(titles))])))


TITLES = ["red wool shoe", "blue shoe", "red red hat", "green silk scarf", "the blue lamp"]


def lucene_bm25(query, titles, k1=1.5, b=0.75):
    """Lucene's BM25 (idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part without the (k1 + 1) factor) straight
    from the formula, on whitespace tokens minus the stopword 'the'."""
    docs = [[w for w in t.lower().split() if w != "the"] for t in titles]
    avgdl = np.mean([len(d) for d in docs])
    scores = []
    for d in docs:
        s = 0.0
        for term in set(query.lower().split()):
            df = sum(term in other for other in docs)
            tf = d.count(term)
            if tf:
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                s += idf * tf / (tf + k1 * (1 - b + b * len(d) / avgdl))
        scores.append(s)
    return np.array(scores)


def test_scores_follow_the_lucene_formula_and_only_matching_titles_are_returned():
    retriever, corpus = BM25Retriever(), corpus_of(TITLES)
    ids, scores = retriever.retrieve(["red shoe", "blue", "purple"], corpus, top_k=10)
    expected = lucene_bm25("red shoe", TITLES)
    order = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0]
    assert ids[0] == [f"p{i}" for i in order]
    np.testing.assert_allclose(scores[0], expected[order], rtol=1e-5)
    assert sorted(ids[1]) == ["p1", "p4"]
    assert ids[2] == [] and len(scores[2]) == 0


def test_index_is_built_once_per_corpus_and_k_is_capped():
    retriever, corpus = BM25Retriever(), corpus_of(TITLES)
    index = retriever.index(corpus)
    assert retriever.index(corpus) is index
    assert retriever.index(corpus_of(TITLES[:2], half=2)) is not index
    ids, _ = retriever.retrieve(["shoe"], corpus_of(["shoe a", "shoe b"]), top_k=1000)
    assert sorted(ids[0]) == ["p0", "p1"]
    assert retriever.retrieve([], corpus, top_k=5) == ([], [])
    with pytest.raises(ValueError, match="empty"):
        BM25Retriever().index(corpus_of([]))


def test_bm25_through_the_protocol_on_synthshop(synthshop_smoke):
    from gcl_nb.data.gs import load_gs
    from gcl_nb.evaluation.config import EvalConfig
    from gcl_nb.evaluation.split_evaluation import evaluate

    table = evaluate(BM25Retriever(), load_gs(synthshop_smoke), EvalConfig(top_q=30, top_k=100))
    assert table["split"].tolist() == list(SPLITS)
    values = table[list(METRIC_COLUMNS)]
    assert ((values >= 0) & (values <= 1)).all().all()
    assert (table["ndcg@10"] > 0.05).all()  # titles share words with SynthShop queries


def test_a_missing_title_is_an_empty_text():
    corpus = corpus_of(["red shoe", "", "blue hat"])
    ids, scores = BM25Retriever().retrieve(["red", "hat shoe"], corpus, top_k=3)
    assert ids == [["p0"], ["p2", "p0"]] and all(len(s) == len(i) for s, i in zip(scores, ids))

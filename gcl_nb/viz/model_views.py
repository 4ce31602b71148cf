"""What the analysis notebooks look at, per trained model, over one data set: each model's ranking for a
query, the query's graded ground truth (gcl_nb.evaluation.protocol.build_qrels), and samples of query +
document embeddings for maps. Rankings and per-query metrics come from the evaluation's own search and scoring
(gcl_nb.evaluation.split_evaluation.rank_queries), so a query's numbers here are its numbers in the evaluation.
Embeddings are computed on demand and cached (documents per (model, corpus) in an EmbeddingCache, queries per
(model, split, query)).

A *model* is an encoder for gcl_nb.evaluation.encoding (a MultiFieldEncoder); *data* is a `GSData`.
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from gcl_nb.data.grades import grade_scores
from gcl_nb.data.schema import check_split
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.embedding_cache import EmbeddingCache
from gcl_nb.evaluation.encoding import encode_queries
from gcl_nb.evaluation.protocol import build_qrels
from gcl_nb.evaluation.split_evaluation import SplitResult, rank_queries
from gcl_nb.metrics import METRIC_COLUMNS
from gcl_nb.metrics.mrr import first_relevant_ranks
from gcl_nb.viz.ranking import rank_correlation_table, side_by_side_view

#: how deep a query's summary searches: the evaluation's top_k, so its metrics are the evaluation's
QUERY_SUMMARY_DEPTH = 1000


class ModelViews:
    """Rankings, ground truth and embeddings of several models on one data set, graded as the evaluation
    grades (gcl_nb.data.grades.grade_scores of score_linear)."""

    def __init__(self, models: Mapping[str, Any], data):
        if not models:
            raise ValueError("ModelViews: give at least one model")
        self.models, self.data = dict(models), data
        self._docs = {name: EmbeddingCache(model) for name, model in self.models.items()}
        self._queries: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self._graded: dict[str, pd.DataFrame] = {}

    def _model(self, name: str):
        if name not in self.models:
            raise ValueError(f"unknown model {name!r}; models: {', '.join(self.models)}")
        return self.models[name]

    def graded(self, split: str) -> pd.DataFrame:
        """The split's pair table with a `grade` column."""
        if split not in self._graded:
            table = self.data.split(check_split(split)).copy()
            table["grade"] = grade_scores(table["score_linear"])
            self._graded[split] = table
        return self._graded[split]

    def queries(self, split: str) -> pd.DataFrame:
        """Unique (query_id, query) of a split, in first-seen order."""
        return self.graded(split)[["query_id", "query"]].drop_duplicates("query_id").reset_index(drop=True)

    def qrels(self, split: str, query_id: str, depth: int | None = None) -> dict[str, int]:
        """{product_id: grade} of the query's rows in the split, best first, the first `depth` of them (None:
        all; the evaluation keeps its top_k) (`build_qrels`)."""
        rows = self.graded(split)
        rows = rows[rows["query_id"] == str(query_id)]
        if rows.empty:
            raise ValueError(f"query_id {query_id!r} has no rows in split {split!r}")
        return build_qrels(rows, rows["grade"].to_numpy(), [rows["query"].iloc[0]], depth or len(rows))[str(query_id)]

    def load_image(self, product_id: str):
        """A product's image from whichever corpus half holds it."""
        for corpus in self.data.corpora.values():
            if str(product_id) in corpus.products.index:
                return corpus.load_image(str(product_id))
        raise ValueError(f"product {product_id!r} is in no corpus half")

    def titles(self, split: str) -> pd.Series:
        """product_id -> title over the split's corpus half."""
        return self.data.corpus_for(split).products["title"]

    def doc_embeddings(self, model: str, split: str) -> tuple[list[str], np.ndarray]:
        """(product ids, (n, d) embeddings) of the whole corpus half the split searches."""
        self._model(model)
        corpus = self.data.corpus_for(check_split(split))
        return corpus.products.index.astype(str).tolist(), self._docs[model].documents(corpus)

    def query_embeddings(self, model: str, split: str, query_ids: Sequence[str]) -> np.ndarray:
        """(n, d) embeddings of the given queries of a split; only queries not seen before are encoded."""
        qids = [str(q) for q in query_ids]
        cache = self._queries.setdefault((model, split), {})
        todo = [q for q in dict.fromkeys(qids) if q not in cache]
        if todo:
            text = self.queries(split).set_index("query_id")["query"]
            unknown = [q for q in todo if q not in text.index]
            if unknown:
                raise ValueError(f"query ids {unknown[:3]} are not in split {split!r}")
            emb = encode_queries(self._model(model), text.loc[todo].tolist()).numpy()
            cache.update(zip(todo, emb))
        return np.stack([cache[q] for q in qids]) if qids else np.zeros((0, 0), dtype=np.float32)

    def ranked(self, model: str, split: str, query_ids: Sequence[str], k: int) -> SplitResult:
        """The evaluation's search and scoring (`rank_queries`) of the given queries with `model`: its top `k`
        over the split's corpus half, and each query's metrics against its `k` best-graded products."""
        qids = list(dict.fromkeys(str(q) for q in query_ids))
        text = self.queries(split).set_index("query_id")["query"]
        unknown = [q for q in qids if q not in text.index]
        if unknown:
            raise ValueError(f"query ids {unknown[:3]} are not in split {split!r}")
        qrels = {q: self.qrels(split, q, k) for q in qids}
        return rank_queries(
            self._model(model),
            split,
            qids,
            text.loc[qids].tolist(),
            qrels,
            self.data.corpus_for(split),
            EvalConfig(top_k=k),
            doc_embeddings=self._docs[model],
        )

    def rankings(
        self, split: str, query_ids: Sequence[str], k: int = 100, models: Sequence[str] | None = None
    ) -> dict[str, dict[str, list[str]]]:
        """rankings[model][query_id] = the model's top-`k` product ids over the split's corpus half
        (the evaluation's exact cosine search, `ranked`), for `models` (default all)."""
        out = {}
        for model in models or list(self.models):
            result = self.ranked(model, split, query_ids, k)
            out[model] = {
                q: [result.doc_ids[i] for i in row if i >= 0]
                for q, row in zip(result.query_ids, result.doc_index.tolist())
            }
        return out

    def ranking(self, model: str, split: str, query_id: str, k: int = 10) -> list[str]:
        """The model's top-`k` product ids for one query (see `rankings`)."""
        self._model(model)
        return self.rankings(split, [query_id], k, [model])[model][str(query_id)]

    def query_summary(
        self, split: str, query_id: str, models: Sequence[str] | None = None, depth: int = QUERY_SUMMARY_DEPTH
    ) -> pd.DataFrame:
        """One row per model (index): the query's metrics as the evaluation computes them with top_k `depth`
        (`ranked`) and `first_relevant`, the rank of its first product with grade > 0 as MRR ranks it (exact
        score ties ordered as trec_eval does; NaN when none is in the top `depth`)."""
        return _summary_table({m: self.ranked(m, split, [query_id], depth) for m in models or list(self.models)})

    def rank_correlations(self, split: str, query_ids: Sequence[str], k: int = 100) -> pd.DataFrame:
        """Per (model, query): Kendall tau and Spearman rho of the model's top-`k` order against the
        query's grades (see `ranking.rank_correlation`), with a `split` column."""
        qids = [str(q) for q in query_ids]
        table = rank_correlation_table(self.rankings(split, qids, k), {q: self.qrels(split, q) for q in qids})
        return table.assign(split=split)

    def query_list(self, split: str) -> list[tuple[str, str]]:
        """(query_id, query text) of every query of the split, in first-seen order (the explorer's list)."""
        return list(self.queries(split).itertuples(index=False, name=None))

    def render(self, split: str, query_id: str, models: Sequence[str], k: int, metric: str = "ndcg@10") -> str:
        """HTML: a summary line (each chosen model's `metric` for the query, its delta against the first
        model, the rank of the first relevant product), then the ground truth next to each model's top `k`
        (the query explorer's renderer)."""
        qrels = self.qrels(split, query_id)
        query = self.queries(split).set_index("query_id").loc[str(query_id), "query"]
        titles = self.titles(split).to_dict()
        results = {m: self.ranked(m, split, [query_id], QUERY_SUMMARY_DEPTH) for m in models}  # one search per model
        rankings = {m: [r.doc_ids[i] for i in r.doc_index[0, :k] if i >= 0] for m, r in results.items()}
        summary = summary_line(_summary_table(results), metric)
        return summary + side_by_side_view(
            qrels,
            rankings,
            titles,
            self.data.corpus_for(split).load_image,
            k=k,
            query=f"{query} ({split}, query {query_id})",
        )

    def embedding_sample(
        self, model: str, split: str, query_ids: Sequence[str], n_docs: int = 500, seed: int = 0
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Labels and embeddings of the chosen queries, all their judged products (even beyond `n_docs`),
        and random other products of the corpus half up to `n_docs` documents. Labels: kind (query|document), id, text,
        query_id (a document's best-graded chosen query, else ""), grade (for that query, else 0)."""
        qids = [str(q) for q in query_ids]
        graded = self.graded(split)
        judged = graded[graded["query_id"].isin(qids)].sort_values("grade", ascending=False)
        judged = judged.drop_duplicates("product_id")
        doc_ids, docs = self.doc_embeddings(model, split)
        position = {p: i for i, p in enumerate(doc_ids)}
        judged_ids = set(judged["product_id"])
        rest = [p for p in doc_ids if p not in judged_ids]
        n_extra = max(0, min(n_docs - len(judged), len(rest)))
        extra = list(np.random.default_rng(seed).choice(rest, size=n_extra, replace=False)) if n_extra else []
        chosen_docs = judged["product_id"].tolist() + [str(p) for p in extra]
        titles = self.titles(split)
        doc_labels = pd.DataFrame(
            {
                "kind": "document",
                "id": chosen_docs,
                "text": titles.loc[chosen_docs].tolist(),
                "query_id": judged["query_id"].tolist() + [""] * len(extra),
                "grade": judged["grade"].astype(int).tolist() + [0] * len(extra),
            }
        )
        query_text = self.queries(split).set_index("query_id")["query"]
        query_labels = pd.DataFrame(
            {"kind": "query", "id": qids, "text": query_text.loc[qids].tolist(), "query_id": qids, "grade": 0}
        )
        labels = pd.concat([query_labels, doc_labels], ignore_index=True)
        emb = np.concatenate([self.query_embeddings(model, split, qids), docs[[position[p] for p in chosen_docs]]])
        return labels, emb

    def sample_split_queries(self, split: str, n: int, seed: int = 0) -> list[str]:
        """`n` random query ids of the split (reproducible)."""
        ids = self.queries(split)["query_id"]
        return ids.sample(n=min(n, len(ids)), random_state=seed).tolist()

    def map_sample(
        self, model: str, splits: Sequence[str], n_queries: int = 20, n_docs: int = 400, seed: int = 0
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """`embedding_sample` of `n_queries` random queries and `n_docs` documents per split, stacked, with
        a `split` column (so one projection shows queries and documents of several splits)."""
        parts = [
            self.embedding_sample(model, s, self.sample_split_queries(s, n_queries, seed), n_docs, seed) for s in splits
        ]
        labels = pd.concat([lab.assign(split=s) for (lab, _), s in zip(parts, splits)], ignore_index=True)
        return labels, np.concatenate([emb for _, emb in parts])


def _summary_table(results: Mapping[str, SplitResult]) -> pd.DataFrame:
    """One row per model of one query's `ranked` results: its metrics and `first_relevant` (NaN when no relevant
    product is in the searched depth)."""
    rows = {}
    for model, result in results.items():
        first = first_relevant_ranks(result.ranked)[0]
        rows[model] = {
            **result.per_query[list(METRIC_COLUMNS)].iloc[0].to_dict(),
            "first_relevant": float(first) if first <= result.doc_index.shape[1] else np.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def summary_line(summary: pd.DataFrame, metric: str = "ndcg@10") -> str:
    """One HTML line from `ModelViews.query_summary`: each model's `metric` (with its delta against the
    first model) and the rank of its first relevant product."""
    first = summary.index[0]
    parts = []
    for model, row in summary.iterrows():
        delta = "" if model == first else f" ({row[metric] - summary.loc[first, metric]:+.3f} vs {first})"
        rank = "none retrieved" if np.isnan(row["first_relevant"]) else f"{int(row['first_relevant'])}"
        parts.append(
            f"<b>{html.escape(str(model))}</b> {metric} {row[metric]:.3f}{delta}, first relevant at rank {rank}"
        )
    return f'<p class="gcl-query-summary" style="font:13px sans-serif">{" · ".join(parts)}</p>'

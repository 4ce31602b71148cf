"""gcl_nb.viz.model_views, embeddings.add_attributes / nearest_gallery and explorer.LinkedMap on the
SynthShop smoke data with a deterministic stand-in model (bag of hashed words)."""

import zlib

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from gcl_nb.data.gs import load_gs
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.encoding import encode_queries
from gcl_nb.evaluation.split_evaluation import evaluate_split
from gcl_nb.models import EncoderConfig, FieldSpec
from gcl_nb.viz import embeddings
from gcl_nb.viz.explorer import LinkedMap, QueryExplorer
from gcl_nb.viz.model_views import ModelViews, summary_line
from gcl_nb.workbench.notebooks import synthshop_attributes


class WordModel(torch.nn.Module):
    """Embeds text as a normalised bag of hashed words; products by title (its tokens are the texts)."""

    config = EncoderConfig(lhs=[FieldSpec("query")], rhs=[FieldSpec("title")])
    transform_eval = None

    def __init__(self, dim=64, salt=0):
        super().__init__()
        self.dim = self.embed_dim = dim
        self.salt = salt

    def _embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(",", " ").split():
                out[i, zlib.crc32(f"{self.salt}{word}".encode()) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def tokenize(self, texts):
        return list(texts)

    def encode_fields(self, side, fields, mask=None):
        return torch.from_numpy(self._embed(fields["query" if side == "lhs" else "title"]))


@pytest.fixture(scope="module")
def views(synthshop_smoke):
    return ModelViews({"a": WordModel(), "b": WordModel(salt=1)}, load_gs(synthshop_smoke))


def test_ranking_is_exact_cosine_top_k(views):
    qid, text = views.queries("in_domain").iloc[0]
    ids, docs = views.doc_embeddings("a", "in_domain")
    scores = dict(zip(ids, docs @ encode_queries(WordModel(), [text])[0].numpy()))
    top = views.ranking("a", "in_domain", qid, k=5)
    np.testing.assert_allclose([scores[p] for p in top], sorted(scores.values(), reverse=True)[:5], rtol=1e-6)
    assert set(views.rankings("zero_shot", [views.queries("zero_shot").query_id[0]], k=3)) == {"a", "b"}
    with pytest.raises(ValueError, match="unknown model 'c'"):
        views.ranking("c", "in_domain", qid)
    with pytest.raises(ValueError, match="no rows in split"):
        views.qrels("in_domain", "nope")


def test_qrels_use_the_grades_of_the_split(views):
    table = views.graded("novel_query")
    qid = table["query_id"].iloc[0]
    qrels = views.qrels("novel_query", qid)
    rows = table[table["query_id"] == qid]
    assert set(qrels) == set(rows["product_id"])
    assert max(qrels.values()) <= 100 and min(table["grade"]) == 1
    best = rows.sort_values("position").iloc[0]
    assert qrels[best["product_id"]] == max(qrels.values())


def test_map_sample_stacks_splits_and_images_come_from_either_half(views):
    labels, emb = views.map_sample("b", ["in_domain", "zero_shot"], n_queries=2, n_docs=80)
    assert len(labels) == len(emb)
    for split, part in labels.groupby("split"):
        assert (part["kind"] == "query").sum() == 2
        judged = (part["grade"] > 0).sum()
        assert 0 < judged and (part["kind"] == "document").sum() == max(80, judged)
    doc = labels[(labels.split == "zero_shot") & (labels.kind == "document")]["id"].iloc[0]
    assert views.load_image(doc).mode == "RGB"
    corr = views.rank_correlations("in_domain", views.sample_split_queries("in_domain", 3), k=50)
    assert len(corr) == 6 and set(corr["split"]) == {"in_domain"}
    assert corr["kendall_tau"].dropna().between(-1, 1).all()


def test_render_and_explorer_show_ground_truth_and_models(views):
    qid = views.queries("in_domain").query_id[1]
    html = views.render("in_domain", qid, ["a", "b"], 4)
    assert html.count("<table") == 3 and html.count("data:image/png;base64,") == 12
    explorer = QueryExplorer(views.render, {"in_domain": views.query_list("in_domain")[:3]}, list(views.models), k=4)
    assert explorer.static_html() == views.render("in_domain", views.queries("in_domain").query_id[0], ["a", "b"], 4)


def test_query_summary_matches_the_evaluation_and_heads_the_render(views):
    evaluated = evaluate_split(WordModel(), views.data, "novel_query", EvalConfig(top_q=5)).per_query
    evaluated = evaluated.set_index("query_id")
    for qid in evaluated.index:
        summary = views.query_summary("novel_query", qid, ["a"])
        for column in ("ndcg@10", "err", "rbp@0.9", "mrr@1000"):
            assert summary.loc["a", column] == pytest.approx(evaluated.loc[qid, column], abs=1e-9), (qid, column)
        first = summary.loc["a", "first_relevant"]
        assert (np.isnan(first) and evaluated.loc[qid, "mrr@1000"] == 0) or 1 / first == pytest.approx(
            evaluated.loc[qid, "mrr@1000"]
        )
    qid = evaluated.index[0]
    summary = views.query_summary("novel_query", qid)
    line = summary_line(summary)
    delta = summary.loc["b", "ndcg@10"] - summary.loc["a", "ndcg@10"]
    assert f"<b>a</b> ndcg@10 {summary.loc['a', 'ndcg@10']:.3f}, first relevant at rank" in line
    assert f"({delta:+.3f} vs a)" in line
    assert views.render("novel_query", qid, ["a", "b"], 3).startswith(line)


def test_embedding_sample_linked_map_and_gallery(views, synthshop_smoke):
    qids = views.queries("in_domain").query_id[:2].tolist()
    labels, emb = views.embedding_sample("a", "in_domain", qids, n_docs=40)
    assert len(labels) == len(emb) == 42
    assert list(labels["kind"][:2]) == ["query", "query"] and labels["id"][2:].is_unique
    judged = labels[labels["grade"] > 0]
    assert set(judged["query_id"]) <= set(qids) and len(judged) > 0
    attrs = synthshop_attributes(synthshop_smoke, ["category"])
    labels = embeddings.add_attributes(labels, attrs)
    assert (labels["category"] != "").all() and len(labels) == 42
    assert labels.loc[0, "category"] == attrs.set_index(["kind", "id"]).loc[("query", qids[0]), "category"]
    frame = embeddings.map_frame(embeddings.project_2d(emb, "pca"), labels)
    fig = embeddings.embedding_map_figure(frame, color="category")
    load = views.data.corpus_for("in_domain").load_image
    html = embeddings.nearest_gallery(labels, emb, 0, load, k=5)
    assert html.count("data:image/png;base64,") == 5 and labels["text"][0] in html
    linked = LinkedMap(fig, labels, emb, load, k=3, index=0)
    assert isinstance(linked.figure, go.FigureWidget)
    trace = next(t for t in linked.figure.data if len(t.x) > 1)
    row = int(trace.customdata[1][0])

    class Points:
        point_inds = [1]

    linked._on_click(trace, Points(), None)
    assert linked.index == row and labels["text"][row] in linked.panel.value
    bundle = linked._repr_mimebundle_()
    assert linked.panel.value in bundle["text/html"] and "Plotly.newPlot" in bundle["text/html"]


def test_clicked_map_point_opens_its_query_in_the_explorer(views):
    labels, emb = views.map_sample("a", ["in_domain", "zero_shot"], n_queries=2, n_docs=30)
    frame = embeddings.map_frame(embeddings.project_2d(emb, "pca"), labels)
    explorer = QueryExplorer(
        views.render, {s: views.query_list(s) for s in ("in_domain", "zero_shot")}, list(views.models), k=3
    )
    linked = LinkedMap(
        embeddings.embedding_map_figure(frame, color="split"),
        labels,
        emb,
        views.load_image,
        k=3,
        index=0,
        explorer=explorer,
    )
    assert explorer.selection()[:2] == ("in_domain", labels.loc[0, "query_id"])
    judged = labels.index[(labels["split"] == "zero_shot") & (labels["grade"] > 0)][0]
    linked.select(judged)
    assert explorer.selection()[:2] == ("zero_shot", labels.loc[judged, "query_id"])
    unjudged = labels.index[labels["query_id"] == ""][0]
    linked.select(unjudged)  # a product of no map query: the explorer stays where it was
    assert explorer.selection()[:2] == ("zero_shot", labels.loc[judged, "query_id"])
    assert explorer.static_html() in linked._repr_mimebundle_()["text/html"]

"""gcl_nb.viz.ranking, .gallery and .explorer: tables, gains, correlations, HTML views, the explorer and
the delta table."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gcl_nb.metrics import OFFICIAL_METRICS
from gcl_nb.viz import gallery, ranking
from gcl_nb.viz.explorer import ALL_QUERIES, MOST_HURT, MOST_IMPROVED, DeltaTable, QueryExplorer
from gcl_nb.workbench.experiment import sweep_gains

QRELS = {"p1": 100, "p2": 50, "p3": 1}
TITLES = {"p1": "red shoe", "p2": "blue shoe", "p3": "green hat", "x": "lamp"}


def _image(pid):
    return Image.new("RGB", (32, 40), (len(pid) * 40, 0, 0))


def _results():
    rows = []
    for model, scale in (("clip", 1.0), ("gcl", 1.5)):
        for split in ("zero_shot", "in_domain"):
            rows.append({"method": model, "split": split, **{m: 0.2 * scale for m in OFFICIAL_METRICS}})
    return pd.DataFrame(rows)


def test_metric_bars_in_split_order():
    fig = ranking.metric_bar_figure(_results())
    assert sorted(t.name for t in fig.data) == ["clip", "gcl"]
    assert list(fig.data[0].x) == ["in_domain", "zero_shot"]


def test_sweep_gain_figure_plots_mean_gain_per_strength_and_split():
    rows = [
        {"method": m, "seed": seed, "split": split, "strength": s, "ndcg@10": v}
        for s, gain in ((0.0, 0.5), (4.0, 0.0))
        for split in ("zero_shot", "in_domain")
        for seed, jitter in ((0, -0.01), (1, 0.01))
        for m, v in (("clip", 0.2 + jitter), ("gcl", (0.2 + jitter) * (1 + gain)))
    ]
    fig = ranking.sweep_gain_figure(sweep_gains(pd.DataFrame(rows)))
    lines = {(t.name, t.xaxis): t for t in fig.data}
    assert {name for name, _ in lines} == {"gcl"} and len(lines) == 2  # one panel per split
    for trace in lines.values():
        assert list(trace.x) == [0.0, 4.0]
        np.testing.assert_allclose(trace.y, [50.0, 0.0])  # percent, mean over seeds
    with pytest.raises(ValueError, match="strength"):
        ranking.sweep_gain_figure(sweep_gains(pd.DataFrame(rows)).droplevel("strength"))


def test_per_query_deltas_sorted_and_histogram():
    per_query = pd.DataFrame(
        {
            "method": ["clip"] * 3 + ["gcl"] * 3 + ["gcl"],
            "split": ["in_domain"] * 7,
            "query_id": ["a", "b", "c"] * 2 + ["c"],
            "ndcg@10": [0.5, 0.2, 0.9, 0.6, 0.8, 0.4, 0.2],
        }
    )
    deltas = ranking.per_query_deltas(per_query, "clip", "gcl")
    assert list(deltas["query_id"]) == ["b", "a", "c"]
    np.testing.assert_allclose(deltas["delta"], [0.6, 0.1, -0.6])
    with pytest.raises(ValueError, match="'bm25' not in table"):
        ranking.per_query_deltas(per_query, "bm25", "gcl")
    fig = ranking.delta_histogram_figure(deltas)
    assert fig.data[0].type == "histogram" and len(fig.data[0].x) == 3


def test_ranked_list_gains_sum_to_ndcg():
    table = ranking.ranked_list_table(["x", "p2", "p1"], QRELS, TITLES, k=3)
    assert list(table["grade"]) == [0, 50, 100]
    idcg = 100 + 50 / np.log2(3) + 1 / np.log2(4)
    dcg = 50 / np.log2(3) + 100 / np.log2(4)
    assert table["ndcg_gain"].sum() == pytest.approx(dcg / idcg)
    perfect = ranking.ranked_list_table(["p1", "p2", "p3"], QRELS, TITLES, k=3)
    assert perfect["ndcg_gain"].sum() == pytest.approx(1.0)
    gt = ranking.ground_truth_table(QRELS, TITLES, k=2)
    assert list(gt["product_id"]) == ["p1", "p2"] and list(gt["title"]) == ["red shoe", "blue shoe"]


def test_rank_correlation_signs():
    assert ranking.rank_correlation(["p1", "p2", "p3"], QRELS)["kendall_tau"] == pytest.approx(1.0)
    assert ranking.rank_correlation(["p3", "p2", "p1"], QRELS)["spearman"] == pytest.approx(-1.0)
    assert np.isnan(ranking.rank_correlation(["x"], {"p1": 3})["kendall_tau"])
    table = ranking.rank_correlation_table(
        {"clip": {"q": ["p3", "p2", "p1"]}, "gcl": {"q": ["p1", "p2"]}}, {"q": QRELS}
    )
    assert list(table["kendall_tau"]) == pytest.approx([-1.0, 1.0])
    fig = ranking.rank_correlation_figure(table)
    assert {t.name for t in fig.data} == {"clip", "gcl"}
    by_split = ranking.rank_correlation_figure(table.assign(split="zero_shot"))
    assert {tuple(t.x) for t in by_split.data} == {("zero_shot",)}


def test_gallery_inlines_images_as_data_uris():
    items = pd.DataFrame({"product_id": ["p1", "p2"], "title": ["<b>shoe</b>", "hat"], "position": [1, 2]})
    html = gallery.gallery_html(items, _image, caption=("title", "position"), title="q")
    assert html.count('src="data:image/png;base64,') == 2
    assert "&lt;b&gt;shoe" in html and "http" not in html
    uri = gallery.image_data_uri(Image.new("RGB", (300, 150)), size=60)
    import base64
    import io

    thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert thumb.size == (60, 30)
    with pytest.raises(ValueError, match="caption columns"):
        gallery.gallery_html(items, _image, caption=("score",))


def test_side_by_side_view_has_one_panel_per_model():
    html = ranking.side_by_side_view(
        QRELS, {"clip": ["x", "p1"], "gcl": ["p1", "p2"]}, TITLES, _image, k=2, query="shoes"
    )
    assert html.count("<table") == 3
    assert "ground truth" in html and "clip: NDCG@2 = " in html and "gcl: NDCG@2 = 1.000" in html
    assert html.count("data:image/png;base64,") == 6
    assert "<th>product_id</th>" not in html and 'title="product p1"' in html
    assert "<th>product_id</th>" in gallery.table_html(ranking.ground_truth_table(QRELS, TITLES), None, show_ids=True)


def test_explorer_updates_and_keeps_static_html():
    calls = []

    def render(split, qid, models, k):
        calls.append((split, qid, models, k))
        return f"<p>{split}|{qid}|{','.join(models)}|{k}</p>"

    explorer = QueryExplorer(
        render, {"in_domain": [("q1", "shoes"), ("q2", "hats")], "zero_shot": [("q9", "lamps")]}, ["clip", "gcl"], k=5
    )
    assert explorer.output.value == "<p>in_domain|q1|clip,gcl|5</p>"
    n_calls = len(calls)
    explorer.split.value = "zero_shot"
    assert explorer.output.value == "<p>zero_shot|q9|clip,gcl|5</p>" and len(calls) == n_calls + 1
    explorer.split.value = "in_domain"
    explorer.query.value = "q2"
    assert explorer.output.value == "<p>in_domain|q2|clip,gcl|5</p>"
    explorer.split.value = "zero_shot"
    explorer.model.value = ("gcl",)
    explorer.k.value = 3
    assert explorer.output.value == "<p>zero_shot|q9|gcl|3</p>"
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == "<p>zero_shot|q9|gcl|3</p>"
    with pytest.raises(ValueError, match="at least one query"):
        QueryExplorer(render, {"in_domain": []}, ["clip"])


DELTAS = pd.DataFrame(
    {
        "split": ["in_domain"] * 4 + ["zero_shot"],
        "query_id": ["q3", "q1", "q4", "q2", "q9"],
        "query": ["red hats", "shoes", "blue hats", "hats", "lamps"],
        "clip": [0.1, 0.5, 0.4, 0.6, 0.3],
        "gcl": [0.6, 0.7, 0.4, 0.2, 0.3],
    }
)
DELTAS["delta"] = DELTAS["gcl"] - DELTAS["clip"]


def _explorer(**options):
    queries = {
        "zero_shot": [("q9", "lamps")],
        "in_domain": [("q1", "shoes"), ("q2", "hats"), ("q3", "red hats"), ("q4", "blue hats"), ("q5", "green hats")],
    }
    return QueryExplorer(
        lambda s, q, m, k: f"<p>{s}|{q}|{','.join(m)}|{k}</p>", queries, ["clip", "gcl"], k=5, **options
    )


def test_explorer_lists_splits_in_protocol_order_and_reaches_every_query():
    explorer = _explorer(deltas=DELTAS, max_options=2)
    assert list(explorer.split.options) == ["in_domain", "zero_shot"]
    assert explorer.order.value == MOST_IMPROVED and explorer.query.value == "q3"
    assert [v for _, v in explorer.query.options] == ["q3", "q1"] and "2 of 4 listed" in explorer.count.value
    assert explorer.query.options[0][0] == "red hats (q3)  Δ +0.500"
    explorer.order.value = MOST_HURT
    assert [v for _, v in explorer.query.options] == ["q2", "q4"]
    assert explorer.output.value == "<p>in_domain|q2|clip,gcl|5</p>"
    explorer.order.value = ALL_QUERIES  # q5 has no delta (not sampled by the evaluation) but is listed
    explorer.search.value = "HATS"
    assert [v for _, v in explorer.query.options] == ["q2", "q3"] and "2 of 4 listed" in explorer.count.value
    explorer.search.value = "q5"
    assert explorer.output.value == "<p>in_domain|q5|clip,gcl|5</p>"
    explorer.search.value = "nothing like it"
    assert explorer.query.value is None and "No query of in_domain" in explorer.output.value
    assert explorer.show("in_domain", "q4") == "<p>in_domain|q4|clip,gcl|5</p>"
    assert explorer.search.value == "" and explorer.query.value == "q4"
    explorer.order.value = MOST_IMPROVED
    explorer.show("in_domain", "q5")  # no delta: the list switches to all queries to show it
    assert explorer.order.value == ALL_QUERIES and explorer.query.value == "q5"
    with pytest.raises(ValueError, match="'q7' is not offered in split 'in_domain'"):
        explorer.show("in_domain", "q7")


def test_explorer_models_and_k_rerender_once():
    calls = []
    explorer = QueryExplorer(
        lambda s, q, m, k: calls.append((s, q, m, k)) or f"<p>{s}|{q}|{','.join(m)}|{k}</p>",
        {"in_domain": [("q1", "shoes"), ("q2", "hats")]},
        ["clip", "gcl"],
        k=5,
        selected=["gcl"],
    )
    assert explorer.order.options == (ALL_QUERIES,) and explorer.output.value == "<p>in_domain|q1|gcl|5</p>"
    assert calls == [("in_domain", "q1", ("gcl",), 5)]
    explorer.k.value = 7
    assert explorer.output.value == "<p>in_domain|q1|gcl|7</p>" and len(calls) == 2  # one render per change
    explorer.model.value = ("clip", "gcl")
    assert explorer.output.value == "<p>in_domain|q1|clip,gcl|7</p>" and len(calls) == 3
    explorer.model.value = ()
    assert "Choose at least one model" in explorer.output.value and len(calls) == 3
    with pytest.raises(ValueError, match="selected models \\['bm25'\\]"):
        _explorer(selected=["bm25"])


def test_delta_summary_counts_helped_hurt_and_unchanged():
    summary = ranking.delta_summary(DELTAS, tolerance=0.0).set_index("split")
    assert list(summary.index) == ["in_domain", "zero_shot"]
    assert summary.loc["in_domain", ["queries", "helped %", "hurt %", "unchanged %"]].tolist() == [4, 50, 25, 25]
    assert summary.loc["zero_shot", "unchanged %"] == 100
    assert ranking.delta_summary(DELTAS, tolerance=0.3).loc[0, "unchanged %"] == 50  # +0.2 and 0


def test_significance_table_is_labelled_with_model_names():
    tests = pd.DataFrame(
        {
            "split": ["zero_shot", "in_domain"],
            "metric": "ndcg@10",
            "mean_a": [0.1, 0.2],
            "mean_b": [0.3, 0.4],
            "p_value": 0.01,
            "method": "gcl",
        }
    )
    table = ranking.labelled_significance(tests, "clip", "gcl")
    assert list(table.columns) == ["split", "metric", "clip", "gcl", "p_value"]
    assert list(table["split"]) == ["in_domain", "zero_shot"] and table.loc[0, "gcl"] == 0.4
    with pytest.raises(ValueError, match="no test of 'gcl-multipos'"):
        ranking.labelled_significance(tests, "clip", "gcl-multipos")


def test_delta_table_opens_clicked_query_and_shows_both_ends_statically():
    opened = []
    table = DeltaTable(DELTAS, on_select=lambda split, qid: opened.append((split, qid)), n_static=1)
    assert len(table.rows) == 5 and table.rows[0]["query_id"] == "q3" and table.columns[-1] == "delta"
    table.selected = {"split": "in_domain", "query_id": "q4", "clicks": 1}
    assert opened == [("in_domain", "q4")]
    static = table.static_html()
    assert "in_domain: most improved 1 of 4" in static and "in_domain: most hurt 1 of 4" in static
    assert "zero_shot: most improved 1 of 1" in static and "zero_shot: most hurt 0 of 1" in static
    assert static.index("red hats") < static.index("in_domain: most hurt") < static.index(">hats<")
    data, _ = table._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and static in data["text/html"]
    with pytest.raises(ValueError, match="missing columns \\['delta'\\]"):
        DeltaTable(DELTAS.drop(columns="delta"))


def test_sortable_table_keeps_values_for_sorting():
    table = pd.DataFrame({"query": ["a<b", "c"], "delta": [0.25, -0.5]})
    html = gallery.sortable_table_html(table, "deltas", max_rows=1)
    assert html.count("<tr>") == 2 and 'data-v="0.25"' in html and "a&lt;b" in html
    assert "getElementById('deltas')" in html and 'data-v="-0.5"' not in html
    with pytest.raises(ValueError, match="identifier"):
        gallery.sortable_table_html(table, "not an id")

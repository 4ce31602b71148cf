"""gcl_nb.viz.embeddings and .display: projections, maps, highlighted query, nearest items, offline HTML."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from gcl_nb.viz import display, embeddings


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _labels(n):
    return pd.DataFrame(
        {
            "kind": ["query"] + ["document"] * (n - 1),
            "id": ["q0"] + [f"p{i}" for i in range(1, n)],
            "text": [f"item {i}" for i in range(n)],
            "category": ["a", "b", "c"] * (n // 3),
        }
    )


def test_pca_projection_keeps_the_main_axis():
    x = np.zeros((20, 5), dtype=np.float32)
    x[:, 0] = np.arange(20)
    x[:, 1] = np.tile([0.0, 0.1], 10)
    coords = embeddings.project_2d(x, method="pca")
    assert coords.shape == (20, 2)
    assert abs(np.corrcoef(coords[:, 0], x[:, 0])[0, 1]) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="unknown method"):
        embeddings.project_2d(x, method="tsne")
    with pytest.raises(ValueError, match="n >= 3"):
        embeddings.project_2d(x[:2], method="pca")


def test_centering_groups_removes_the_offset_between_kinds():
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(10, 4)) * 0.1 + np.array([5.0, 0, 0, 0])
    docs = rng.normal(size=(10, 4)) * 0.1 + np.array([0, 5.0, 0, 0])
    kinds = ["query"] * 10 + ["document"] * 10
    centred = embeddings.center_groups(np.vstack([queries, docs]), kinds)
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, rtol=1e-5)
    coords = embeddings.project_2d(np.vstack([queries, docs]), "pca", groups=kinds)
    gap = np.linalg.norm(coords[:10].mean(axis=0) - coords[10:].mean(axis=0))
    assert gap < 0.2 * coords.std()
    with pytest.raises(ValueError, match="3 group labels for 20"):
        embeddings.center_groups(np.vstack([queries, docs]), kinds[:3])


@pytest.mark.slow
def test_umap_projection(emb):
    coords = embeddings.project_2d(emb, method="umap", n_neighbors=5)
    assert coords.shape == (30, 2) and np.isfinite(coords).all()


def test_map_figure_colours_by_attribute(emb):
    frame = embeddings.map_frame(embeddings.project_2d(emb, "pca"), _labels(30))
    fig = embeddings.embedding_map_figure(frame, color="category")
    assert sum(len(t.x) for t in fig.data) == 30
    assert [t.name for t in fig.data] == ["a", "b", "c"], "one legend entry per category"
    rows = np.concatenate([np.asarray(t.customdata)[:, 0].astype(int) for t in fig.data])
    assert sorted(rows) == list(range(30)) and list(fig.data[0].customdata[0][1:]) == ["item 0", "a", "query"]
    assert fig.data[0].marker.size[0] > fig.data[0].marker.size[1], "queries drawn larger"
    numeric = embeddings.embedding_map_figure(frame.assign(score=np.arange(30.0)), color="score")
    assert len(numeric.data) == 1 and numeric.data[0].marker.showscale
    with pytest.raises(ValueError, match="2 coordinates but 30"):
        embeddings.map_frame(np.zeros((2, 2)), _labels(30))


def test_category_styles_give_every_category_its_own_look():
    names = [f"cat{i:02d}" for i in range(15)] + ["n/a"]
    styles = embeddings.category_styles(names * 2)
    assert list(styles) == names and len(set(styles.values())) == 16
    assert styles["n/a"] == ("#bbbbbb", "circle")
    assert {symbol for _, symbol in styles.values()} == {"circle", "square"}
    assert len(set(embeddings.category_styles(range(200)).values())) == 80, "10 colours x 8 symbols"


def test_highlight_query_ranks_ground_truth_by_grade(emb):
    frame = embeddings.map_frame(embeddings.project_2d(emb, "pca"), _labels(30))
    fig = embeddings.highlight_query_figure(frame, 0, {"p3": 10, "p7": 90, "zz": 5})
    background, truth, query = fig.data
    assert len(background.x) == 30 and list(truth.text) == ["1", "2"]
    assert list(truth.marker.color) == [90.0, 10.0]
    assert query.x[0] == frame.loc[0, "x"]
    assert fig.layout.xaxis.range is None
    zoomed = embeddings.highlight_query_figure(frame, 0, {"p3": 10, "p7": 90}, n_labels=1, zoom=True)
    assert list(zoomed.data[1].text) == ["1", ""]
    xs = [frame.loc[i, "x"] for i in (0, 7)]
    lo, hi = zoomed.layout.xaxis.range
    assert lo < min(xs) and hi > max(xs) and hi - lo < 1.3 * (max(xs) - min(xs))


def test_nearest_items(emb):
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    assert list(embeddings.nearest_items(x, 0, k=2)) == [1, 2]
    assert list(embeddings.nearest_items(x, 0, k=5, candidates=np.array([1, 0, 1, 1], bool))) == [2, 3]
    with pytest.raises(ValueError, match="outside"):
        embeddings.nearest_items(x, 4)


def test_offline_renderer_draws_with_the_page_plotly_js():
    previous = pio.renderers.default
    try:
        assert display.use_offline_plotly() == "plotly_mimetype+gcl_offline"
        bundle = pio.renderers._build_mime_bundle(go.Figure(go.Bar(y=[1, 2])).to_dict())
    finally:
        pio.renderers.default = previous
    assert "application/vnd.plotly.v1+json" in bundle
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html and "cdn" not in html.lower() and "mathjax" not in html.lower()
    assert "* plotly.js v" not in html and len(html) < 20_000, "plotly.js comes from the exported page, not each figure"


def test_smoke_caveat_only_for_smoke_or_ci():
    assert display.smoke_caveat("cpu") is None and display.smoke_caveat("gpu", ci=False) is None
    for preset, ci in (("smoke", False), ("cpu", True)):
        assert "Smoke test, not a result" in display.smoke_caveat(preset, ci).data

"""gcl_nb.viz.data_figures and .training (with the run directory's history reader): figures carry the expected
traces and numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from gcl_nb.losses import weights
from gcl_nb.training.run_dir import read_history
from gcl_nb.viz import data_figures as vd
from gcl_nb.viz import training as vt


def _pairs(split_queries, products, n_pos=5):
    rows = []
    for q in split_queries:
        for pos in range(1, n_pos + 1):
            pid = products[(int(q[1:]) + pos) % len(products)]
            rows.append(
                {
                    "query": f"text {q}",
                    "query_id": q,
                    "product_id": pid,
                    "title": f"t{pid}",
                    "position": pos,
                    "score_linear": 101 - pos,
                    "score_reciprocal": 1 / pos,
                    "no_score": 1,
                    "pair_id": f"{q}-{pid}",
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def splits():
    c1, c2 = [f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]
    q0, q1 = [f"q{i}" for i in range(8)], ["q8", "q9"]
    return {
        "in_domain": _pairs(q0, c1),
        "novel_query": _pairs(q1, c1),
        "novel_document": _pairs(q0, c2),
        "zero_shot": _pairs(q1, c2, n_pos=3),
    }


def test_split_summary_and_structure_picture(splits):
    summary = vd.split_summary(splits)
    assert list(summary["split"]) == ["in_domain", "novel_query", "novel_document", "zero_shot"]
    assert list(summary["rows"]) == [40, 10, 40, 6]
    assert list(summary["query_set"]) == [0, 1, 0, 1] and list(summary["corpus"]) == [1, 1, 2, 2]
    fig = vd.split_structure_figure(summary)
    (heat,) = fig.data
    assert heat.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(heat.z), [[40, 40], [10, 6]])
    assert "zero_shot" in heat.text[1][1] and "2 queries" in heat.text[1][1]


def test_results_per_query_histograms(splits):
    fig = vd.results_per_query_figure(splits)
    assert [t.name for t in fig.data] == list(splits)
    assert sorted(fig.data[3].x) == [3, 3]


def test_score_figures_follow_position(splits):
    pairs = splits["in_domain"]
    fig = vd.score_position_figure(pairs)
    assert len(fig.data) == 3
    np.testing.assert_allclose(fig.data[0].y, [100, 99, 98, 97, 96])
    np.testing.assert_allclose(fig.data[1].y, 1 / np.arange(1, 6))
    assert len(vd.score_histogram_figure(pairs).data) == 4
    with pytest.raises(ValueError, match="score_reciprocal"):
        vd.score_position_figure(pairs.drop(columns="score_reciprocal"))


def test_stw_weight_curves(splits):
    stw = {"constant": weights.constant, "linear": lambda s: weights.linear(s, scale=0.01)}
    fig = vd.stw_weight_figure(splits["in_domain"], stw)
    assert [t.name for t in fig.data] == ["constant", "linear"]
    np.testing.assert_allclose(fig.data[1].y, [1.0, 0.99, 0.98, 0.97, 0.96], rtol=1e-6)
    fig = vd.stw_weight_figure(splits["in_domain"], {"linear": weights.linear})
    np.testing.assert_allclose(fig.data[0].y, np.array([100, 99, 98, 97, 96]) / 100, rtol=1e-6)
    raw = vd.stw_weight_figure(splits["in_domain"], {"linear": weights.linear}, normalise=False)
    np.testing.assert_allclose(raw.data[0].y, [100, 99, 98, 97, 96])
    with pytest.raises(ValueError, match="shape"):
        vd.stw_weight_figure(splits["in_domain"], {"bad": lambda s: s[:2]})


def test_split_overlap_follows_the_two_way_design(splits):
    table = vd.split_overlap(splits).set_index(["split_a", "split_b"])
    assert table.loc[("in_domain", "novel_document"), "shared_queries"] == 8
    assert table.loc[("in_domain", "novel_document"), "shared_products"] == 0
    assert table.loc[("in_domain", "novel_query"), "shared_queries"] == 0
    assert table.loc[("in_domain", "novel_query"), "shared_products"] > 0
    assert table.loc[("in_domain", "zero_shot")].sum() == 0


def test_training_curves(tmp_path):
    rows = [{"step": s, "loss": 2.0 / (s + 1), "lr": 1e-3, "logit_scale": 14.3 + s, "epoch": 0} for s in range(5)]
    (tmp_path / "history.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    history = read_history(tmp_path)
    assert len(history) == 5
    fig = vt.training_curves_figure({"clip": history, "gcl": history.assign(loss=history.loss / 2)})
    assert len(fig.data) == 6
    assert [t.showlegend for t in fig.data] == [True, False, False, True, False, False]
    np.testing.assert_allclose(fig.data[3].y, np.asarray(fig.data[0].y) / 2)
    with pytest.raises(ValueError, match="no training history"):
        read_history(tmp_path / "missing")
    with pytest.raises(ValueError, match="logit_scale"):
        vt.training_curves_figure({"x": history.drop(columns="logit_scale")})

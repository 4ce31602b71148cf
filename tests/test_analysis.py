"""gcl_nb.workbench.synthshop_analysis on tiny hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gcl_nb.evaluation.split_evaluation import SplitResult
from gcl_nb.metrics import RankedGrades, ndcg
from gcl_nb.workbench import synthshop_analysis as A

DISC = 1 / np.log2(np.arange(2, 12))


def _products() -> pd.DataFrame:
    base = {
        "colour": "red",
        "pattern": "solid",
        "material": "leather",
        "brand": "acme",
        "style": "casual",
        "size": "small",
    }
    rows = [("p1", "shoe", 2.0), ("p2", "shoe", 1.0), ("p3", "boot", 3.0), ("p4", "bag", 1.0)]
    return pd.DataFrame([{"product_id": pid, "category": cat, "popularity": pop, **base} for pid, cat, pop in rows])


def test_corpus_levels_are_rounded_engine_relevance():
    queries = pd.DataFrame(
        {
            "query_id": ["q1", "q2"],
            "category": ["shoe", ""],
            "colour": ["", "red"],
            "brand": ["", ""],
            "style": ["", ""],
            "pattern": ["", ""],
            "material": ["", ""],
        }
    )
    levels = A.corpus_levels(_products(), queries, ["p4", "p3", "p1"])
    assert list(levels.columns) == ["p4", "p3", "p1"]
    # category weight 4, a related category (boot ~ shoe) earns 35% of it; colour weight 2
    assert levels.loc["q1"].tolist() == [0, 28, 80]
    assert levels.loc["q2"].tolist() == [40, 40, 40]
    with pytest.raises(ValueError, match="p9"):
        A.corpus_levels(_products(), queries, ["p9"])


def test_expected_level_ndcg_by_hand():
    levels = np.array([2, 2, 1, 0])
    grades = np.array([3.0, 1.0, 2.0, 0.0])
    idcg = np.array([3.0, 2.0, 1.0]) @ DISC[:3]
    # a level-2 slot expects (3 + 1) / 2 = 2, a level-1 slot 2, a level-0 slot 0
    assert A.expected_level_ndcg([2], levels, grades, k=1) == pytest.approx(2 / 3)
    expected = (2 * DISC[0] + 2 * DISC[1] + 2 * DISC[2]) / idcg
    assert A.expected_level_ndcg([2, 2, 1], levels, grades, k=3) == pytest.approx(expected)
    assert A.expected_level_ndcg([0, 0], levels, grades, k=2) == 0.0
    assert A.expected_level_ndcg([], levels, np.zeros(4), k=10) == 0.0
    with pytest.raises(ValueError, match="levels"):
        A.expected_level_ndcg([5], levels, grades, k=1)


def test_expected_level_ndcg_equals_ndcg_when_each_level_holds_one_product():
    rng = np.random.default_rng(0)
    grades = rng.integers(0, 5, 12).astype(float)
    levels = np.arange(12)  # one product per level: nothing is random
    order = rng.permutation(12)
    run = {"q": {f"d{i}": float(12 - r) for r, i in enumerate(order)}}
    qrels = {"q": {f"d{i}": grades[i] for i in range(12) if grades[i] > 0}}
    assert A.expected_level_ndcg(levels[order], levels, grades, k=10) == pytest.approx(ndcg(qrels, run, 10))


def test_level_oracle_is_perfect_when_the_level_decides_the_grade():
    levels = pd.DataFrame([[3, 3, 2, 1, 0, 0]], index=["q"], columns=[f"d{i}" for i in range(6)])
    qrels = {"q": {"d0": 50, "d1": 50, "d2": 30, "d3": 10}}  # equal grades within a level
    assert A.level_oracle_ndcg(qrels, levels, k=3)["q"] == pytest.approx(1.0)


def test_level_oracle_random_within_level_and_popularity_order():
    cols = ["a", "b", "c", "d"]
    levels = pd.DataFrame([[1, 1, 1, 0]], index=["q"], columns=cols)
    qrels = {"q": {"a": 3, "b": 2, "c": 1}}  # within the level, grade follows popularity
    pop = pd.Series({"a": 9.0, "b": 5.0, "c": 1.0, "d": 100.0})  # d is popular but of a lower level
    idcg = np.array([3, 2]) @ DISC[:2]
    assert A.level_oracle_ndcg(qrels, levels, k=2)["q"] == pytest.approx(2 * (DISC[0] + DISC[1]) / idcg)
    assert A.level_oracle_ndcg(qrels, levels, k=2, within=pop)["q"] == pytest.approx(1.0)
    worst = A.level_oracle_ndcg(qrels, levels, k=2, within=-pop)["q"]
    assert worst == pytest.approx((1 * DISC[0] + 2 * DISC[1]) / idcg)
    with pytest.raises(ValueError, match="lacks"):
        A.level_oracle_ndcg(qrels, levels, within=pop.drop("a"))


def _result(doc_index: list[list[int]]) -> SplitResult:
    doc_ids = pd.Index(["a", "b", "c", "d"])
    qrels = {"q": {"a": 3, "b": 1, "c": 2}}
    index = np.array(doc_index)
    run = {"q": {doc_ids[i]: float(len(index[0]) - r) for r, i in enumerate(index[0]) if i >= 0}}
    per_query = pd.DataFrame({"split": "s", "query_id": ["q"], "query": ["x"], "ndcg@10": [ndcg(qrels, run, 10)]})
    scores = np.tile(np.arange(index.shape[1], 0, -1, dtype=float), (len(index), 1))
    ranked = RankedGrades.from_topk(qrels, ["q"], index, scores, doc_ids)
    return SplitResult("s", ["q"], ["x"], qrels, doc_ids, index, scores, per_query, ranked)


def test_level_decomposition_separates_level_choice_from_within_level_choice():
    levels = pd.DataFrame([[2, 2, 1, 0]], index=["q"], columns=["a", "b", "c", "d"])
    best, worst = _result([[0, 2, 3, -1]]), _result([[1, 2, 3, -1]])  # a (grade 3) or b (grade 1) first
    d_best, d_worst = A.level_decomposition(best, levels), A.level_decomposition(worst, levels)
    # same levels at every rank, so the same level part; the choice inside level 2 goes to within_part
    assert d_best["level_part"].iloc[0] == pytest.approx(d_worst["level_part"].iloc[0])
    idcg = np.array([3, 2, 1]) @ DISC[:3]
    assert d_best["level_part"].iloc[0] == pytest.approx((2 * DISC[0] + 2 * DISC[1]) / idcg)
    assert d_best["within_part"].iloc[0] > 0 > d_worst["within_part"].iloc[0]
    assert (d_best["ndcg"] - d_best["level_part"] - d_best["within_part"]).abs().max() < 1e-12
    with pytest.raises(ValueError, match="no level"):
        A.level_decomposition(best, levels.drop(columns="d"))


def test_level_decomposition_computes_ndcg_at_other_cutoffs():
    levels = pd.DataFrame([[2, 2, 1, 0]], index=["q"], columns=["a", "b", "c", "d"])
    out = A.level_decomposition(_result([[2, 0, 1, 3]]), levels, k=1)
    assert out["ndcg"].iloc[0] == pytest.approx(2 / 3)
    assert out["level_part"].iloc[0] == pytest.approx(2 / 3)


def _deltas() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "split": ["s"] * 4 + ["t"] * 2,
            "query_id": ["q1", "q2", "q3", "q4", "q1", "q2"],
            "delta": [0.3, 0.1, -0.1, 0.0, 0.2, 0.4],
        }
    )


def test_delta_power_summary():
    out = A.delta_power_summary(_deltas())
    assert out.loc["s", "n"] == 4 and out.loc["t", "n"] == 2
    assert out.loc["s", "mean"] == pytest.approx(0.075)
    assert out.loc["s", "improved"] == 0.5 and out.loc["s", "hurt"] == 0.25
    assert out.loc["t", "mde80"] == pytest.approx(2.8 * 0.1)  # sem of (0.2, 0.4) = 0.1


def test_deltas_by_query_property():
    props = pd.DataFrame({"query_id": ["q1", "q2", "q3", "q4"], "up": [4, 2, 1, np.nan], "down": [1, 2, 3, 4]})
    out = A.deltas_by_query_property(_deltas(), props).set_index(["split", "property"])
    assert out.loc[("s", "up"), "rho"] == pytest.approx(1.0) and out.loc[("s", "up"), "n"] == 3
    assert out.loc[("s", "down"), "rho"] == pytest.approx(-0.8)
    assert np.isnan(out.loc[("t", "up"), "rho"])  # two queries: no correlation
    per_split = props.assign(split="t")
    assert A.deltas_by_query_property(_deltas(), per_split, ["up"])["n"].tolist() == [0, 2]


def test_query_properties_count_training_queries_only():
    q = pd.DataFrame(
        {
            "query_id": ["a", "b", "c", "d"],
            "side": [0, 0, 0, 1],
            "n_exact": [1, 2, 3, 4],
            "category": ["shoe", "shoe", "bag", "shoe"],
            "colour": ["red", "red", "red", ""],
            "brand": ["acme", "", "", ""],
            "style": "",
            "pattern": "",
            "material": "",
        }
    )
    out = A.query_properties(q).set_index("query_id")
    assert out.loc["a", "n_attributes"] == 3 and out.loc["d", "n_attributes"] == 1
    assert out.loc["a", "train_same_category"] == 1  # b; itself excluded
    assert out.loc["d", "train_same_category"] == 2  # a and b; c is a bag
    assert out.loc["b", "train_same_category_colour"] == 1 and np.isnan(out.loc["d", "train_same_category_colour"])
    assert out.loc["a", "train_all_but_one"] == 1  # b shares shoe and red
    assert out.loc["c", "train_all_but_one"] == 2  # one attribute value shared by a and b (red)


def test_judged_properties():
    table = pd.DataFrame({"query_id": ["q"] * 3, "product_id": ["b", "a", "c"], "position": [2, 1, 5]})
    levels = pd.DataFrame([[5, 5, 3]], index=["q"], columns=["a", "b", "c"])
    out = A.judged_properties(table, levels, k=2).iloc[0]
    assert out["n_judged"] == 3 and out["top_share"] == 1.0 and out["n_levels"] == 2
    assert A.judged_properties(table, levels, k=3).iloc[0]["top_share"] == pytest.approx(2 / 3)


def test_official_qrels_grade_every_query():
    table = pd.DataFrame(
        {
            "query": ["x", "x", "y"],
            "query_id": ["1", "1", "2"],
            "product_id": ["a", "b", "c"],
            "score_linear": [100, 1, 50],
        }
    )
    assert A.official_qrels(table) == {"1": {"a": 100, "b": 1}, "2": {"c": 50}}

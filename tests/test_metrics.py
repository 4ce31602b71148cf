"""gcl_nb.metrics: trec_eval agreement, worked examples, edge cases and bad input."""

import math

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from gcl_nb.metrics import (
    METRIC_COLUMNS,
    RankedGrades,
    dcg,
    err,
    mean_average_precision,
    metric_order,
    metric_set,
    mrr,
    ndcg,
    precision,
    rbp,
    recall,
)


def random_case(rng, n_queries=30, n_docs=60, tie_scores=False):
    """Random qrels (grades 0..5, some docs judged 0) and runs of varying length, string ids."""
    qrels, run = {}, {}
    for q in range(n_queries):
        docs = [f"d{i}" for i in rng.permutation(n_docs)]
        judged = docs[: rng.integers(1, 25)]
        qrels[f"q{q}"] = {d: int(rng.integers(0, 6)) for d in judged}
        retrieved = rng.permutation(docs)[: rng.integers(0, n_docs)]
        scores = rng.integers(0, 4, len(retrieved)) if tie_scores else rng.normal(size=len(retrieved))
        run[f"q{q}"] = {d: float(s) for d, s in zip(retrieved, scores)}
    return qrels, run


@pytest.mark.parametrize("tie_scores", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trec_eval_metrics_match_pytrec_eval(seed, tie_scores):
    qrels, run = random_case(np.random.default_rng(seed), tie_scores=tie_scores)
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.1,3,10,50", "map_cut.5,1000", "recall.10,100", "P.5,10"}
    )
    expected = evaluator.evaluate(run)
    checks = [
        (lambda: ndcg(qrels, run, 1, per_query=True), "ndcg_cut_1"),
        (lambda: ndcg(qrels, run, 3, per_query=True), "ndcg_cut_3"),
        (lambda: ndcg(qrels, run, 10, per_query=True), "ndcg_cut_10"),
        (lambda: ndcg(qrels, run, 50, per_query=True), "ndcg_cut_50"),
        (lambda: mean_average_precision(qrels, run, 5, per_query=True), "map_cut_5"),
        (lambda: mean_average_precision(qrels, run, 1000, per_query=True), "map_cut_1000"),
        (lambda: recall(qrels, run, 10, per_query=True), "recall_10"),
        (lambda: recall(qrels, run, 100, per_query=True), "recall_100"),
        (lambda: precision(qrels, run, 5, per_query=True), "P_5"),
        (lambda: precision(qrels, run, 10, per_query=True), "P_10"),
    ]
    for compute, measure in checks:
        ours = compute()
        assert set(ours) == set(qrels), f"{measure}: one value per judged query, none dropped"
        for q, value in ours.items():
            assert value == pytest.approx(expected.get(q, {}).get(measure, 0.0), abs=1e-12), (measure, q)


def test_ties_are_broken_by_document_id_descending_like_trec_eval():
    qrels = {"q": {"a": 1, "b": 0, "c": 2}}
    run = {"q": {"a": 1.0, "b": 1.0, "c": 1.0}}  # ranked c, b, a
    assert ndcg(qrels, run, 3) == pytest.approx((2 + 1 / 2) / (2 + 1 / math.log2(3)))
    assert mrr(qrels, run, 1) == 1.0
    run = {"q": {"a": 1.0, "b": 1.0, "c": 0.5}}  # ranked b, a, c
    assert mrr(qrels, run, 10) == 0.5


def test_metric_order_ranks_tied_duplicates_as_every_metric_does():
    """Duplicate products (same title, same image: the same similarity) in a search's order: RBP, ERR and NDCG
    computed by hand over `metric_order` equal the library's; over the search's own order they need not."""
    qrels = {"q": {"p1": 5, "p2": 1, "p3": 3, "p9": 2}}
    search = {"p1": 0.7, "p2": 0.9, "p3": 0.9, "p4": 0.9, "p9": 0.5}  # p2, p3, p4 tied
    assert metric_order(search) == ["p4", "p3", "p2", "p1", "p9"]

    def by_hand(order):
        g = np.array([qrels["q"].get(d, 0) for d in order], dtype=float)
        r = np.arange(1, len(g) + 1)
        ideal = np.sort(list(qrels["q"].values()))[::-1]
        R = (2.0**g - 1) / 2.0 ** g.max()
        return {
            "rbp": 0.1 * np.sum(g / 5 * 0.9 ** (r - 1)),
            "err": np.sum(R / r * np.cumprod(np.r_[1.0, 1 - R[:-1]])),
            "ndcg": np.sum(g / np.log2(r + 1)) / np.sum(ideal / np.log2(np.arange(1, len(ideal) + 1) + 1)),
        }

    library = {
        "rbp": rbp(qrels, {"q": search}, 0.9),
        "err": err(qrels, {"q": search}),
        "ndcg": ndcg(qrels, {"q": search}, 10),
    }
    assert by_hand(metric_order(search)) == pytest.approx(library, abs=1e-12)
    assert by_hand(list(search))["rbp"] != pytest.approx(library["rbp"])


def test_dcg_discounts_rank_r_by_log2_r_plus_1():
    assert dcg([3, 0, 2, 1]) == pytest.approx(3 + 2 / math.log2(4) + 1 / math.log2(5))
    np.testing.assert_allclose(dcg(np.array([[1.0, 1.0], [0.0, 2.0]])), [1 + 1 / math.log2(3), 2 / math.log2(3)])
    assert dcg([]) == 0


def test_err_worked_examples():
    # grades (3, 0, 1), gmax 3: R = 7/8, 0, 1/8
    qrels = {"q": {"a": 3, "b": 0, "c": 1}}
    run = {"q": {"a": 0.9, "b": 0.8, "c": 0.7}}
    assert err(qrels, run) == pytest.approx(7 / 8 + (1 / 8) / 3 * (1 / 8))
    # a perfect single document with the top grade: R = (2^g - 1) / 2^g
    assert err({"q": {"a": 2}}, {"q": {"a": 1.0}}) == pytest.approx(3 / 4)
    # relevant document only at rank 2 behind an unjudged one: R_2 / 2
    assert err({"q": {"a": 1}}, {"q": {"x": 0.9, "a": 0.1}}) == pytest.approx(0.5 / 2)
    # two queries: the mean
    both = err({"q1": {"a": 2}, "q2": {"a": 1}}, {"q1": {"a": 1.0}, "q2": {"a": 1.0}})
    assert both == pytest.approx((3 / 4 + 1 / 2) / 2)


def test_rbp_and_mrr_worked_examples():
    qrels = {"q": {"a": 4, "b": 2}}
    run = {"q": {"x": 3.0, "b": 2.0, "a": 1.0}}
    p = 0.8
    assert rbp(qrels, run, p) == pytest.approx((1 - p) * (0.5 * p + 1.0 * p**2))
    assert mrr(qrels, run, 10) == 0.5
    assert mrr(qrels, run, 1) == 0.0
    with pytest.raises(ValueError, match="persistence"):
        rbp(qrels, run, 1.0)


def test_metric_set_matches_single_metrics():
    qrels, run = random_case(np.random.default_rng(5))
    table = metric_set(qrels, run, per_query=True)
    assert tuple(table.columns) == METRIC_COLUMNS
    assert table.index.name == "query_id"
    assert table["ndcg@10"].to_dict() == pytest.approx(ndcg(qrels, run, 10, per_query=True))
    assert table["err"].to_dict() == pytest.approx(err(qrels, run, per_query=True))
    assert table["rbp@0.8"].to_dict() == pytest.approx(rbp(qrels, run, 0.8, per_query=True))
    assert table["map@1000"].to_dict() == pytest.approx(mean_average_precision(qrels, run, 1000, per_query=True))
    assert table["mrr@1000"].to_dict() == pytest.approx(mrr(qrels, run, 1000, per_query=True))
    assert table["recall@100"].to_dict() == pytest.approx(recall(qrels, run, 100, per_query=True))
    means = metric_set(qrels, run)
    assert means["err"] == pytest.approx(table["err"].mean())


def test_from_topk_equals_from_dicts_with_padding_and_reordered_rows():
    rng = np.random.default_rng(3)
    doc_ids = pd.Index([f"p{i}" for i in range(40)])
    qrels = {f"q{q}": {f"p{i}": int(rng.integers(1, 4)) for i in rng.choice(40, 8, replace=False)} for q in range(6)}
    qrels["q5"]["not-in-corpus"] = 3
    index = np.stack([rng.choice(40, 10, replace=False) for _ in range(5)])
    scores = rng.integers(0, 3, index.shape).astype(np.float32)  # many ties
    index[1, 7:] = -1  # a short run
    rows = ["q4", "q0", "q2", "q1", "q3"]  # q5 has no run
    ranked = RankedGrades.from_topk(qrels, rows, index, scores, doc_ids)
    run = {q: {doc_ids[i]: float(s) for i, s in zip(index[r], scores[r]) if i >= 0} for r, q in enumerate(rows)}
    expected = RankedGrades.from_dicts(qrels, run)
    assert ranked.query_ids == expected.query_ids
    np.testing.assert_array_equal(ranked.hit_ranks, expected.hit_ranks)
    np.testing.assert_array_equal(ranked.hit_grades, expected.hit_grades)
    np.testing.assert_array_equal(ranked.ideal, expected.ideal)
    np.testing.assert_array_equal(ranked.n_retrieved, expected.n_retrieved)
    assert ranked.n_retrieved.tolist() == [7, 10, 10, 10, 10, 0]  # qrels order; q0 is the short run


class TestEdgeCases:
    qrels = {"q": {"a": 2, "b": 1}}

    def test_empty_run_scores_zero(self):
        for value in metric_set(self.qrels, {}).values():
            assert value == 0.0
        assert metric_set(self.qrels, {"q": {}})["ndcg@10"] == 0.0

    def test_query_missing_from_run_counts_as_zero_in_the_mean(self):
        qrels = {**self.qrels, "q2": {"a": 1}}
        assert ndcg(qrels, {"q": {"a": 1.0, "b": 0.5}}, 10) == pytest.approx(0.5)

    def test_fewer_than_k_results(self):
        run = {"q": {"b": 1.0}}
        assert precision(self.qrels, run, 10) == pytest.approx(0.1)  # trec_eval divides by k
        assert recall(self.qrels, run, 10) == pytest.approx(0.5)
        assert ndcg(self.qrels, run, 10) == pytest.approx(1 / (2 + 1 / math.log2(3)))

    def test_all_grades_equal(self):
        qrels = {"q": {"a": 1, "b": 1, "c": 1}}
        run = {"q": {"c": 0.1, "b": 0.3, "a": 0.2}}
        assert ndcg(qrels, run, 3) == pytest.approx(1.0)
        assert err(qrels, run) == pytest.approx(0.5 + 0.25 / 2 + 0.125 / 3)
        assert rbp(qrels, run, 0.5) == pytest.approx(0.5 * (1 + 0.5 + 0.25))

    def test_query_without_judged_documents_scores_zero(self):
        qrels = {"q": {"a": 2}, "empty": {}, "zeros": {"a": 0}}
        run = {"q": {"a": 1.0}, "empty": {"a": 1.0}, "zeros": {"a": 1.0}}
        table = metric_set(qrels, run, per_query=True)
        assert (table.loc[["empty", "zeros"]] == 0).all().all()
        assert table.loc["q", "ndcg@10"] == 1.0

    def test_no_queries_has_no_mean(self):
        with pytest.raises(ValueError, match="no query"):
            ndcg({}, {}, 10)
        assert ndcg({}, {}, 10, per_query=True) == {}


class TestBadInput:
    qrels = {"q": {"a": 2, "b": 1}}

    def test_unknown_query_in_run(self):
        with pytest.raises(ValueError, match=r"1 query id\(s\) not in the qrels \('zz'\)"):
            ndcg(self.qrels, {"q": {"a": 1.0}, "zz": {"a": 1.0}}, 10)

    def test_nan_score_names_query_and_document(self):
        with pytest.raises(ValueError, match="NaN for query 'q', document 'b'"):
            err(self.qrels, {"q": {"a": 1.0, "b": float("nan")}})
        with pytest.raises(ValueError, match="NaN for query 'q', document 'p1'"):
            RankedGrades.from_topk(
                self.qrels, ["q"], np.array([[0, 1]]), np.array([[1.0, np.nan]]), pd.Index(["p0", "p1"])
            )

    def test_bad_grades(self):
        for grade in (float("nan"), -1):
            with pytest.raises(ValueError, match="grades must be numbers >= 0"):
                ndcg({"q": {"a": grade}}, {"q": {"a": 1.0}}, 10)

    def test_duplicate_document_in_a_run(self):
        with pytest.raises(ValueError, match="document 'p1' appears twice"):
            RankedGrades.from_topk(self.qrels, ["q"], np.array([[1, 0, 1]]), np.ones((1, 3)), pd.Index(["p0", "p1"]))

    def test_shape_and_index_errors(self):
        ids = pd.Index(["p0", "p1"])
        with pytest.raises(ValueError, match="must both be"):
            RankedGrades.from_topk(self.qrels, ["q"], np.zeros((1, 2), int), np.zeros((1, 3)), ids)
        with pytest.raises(ValueError, match="positions 0..1"):
            RankedGrades.from_topk(self.qrels, ["q"], np.array([[2]]), np.zeros((1, 1)), ids)
        with pytest.raises(ValueError, match="lists a query twice"):
            RankedGrades.from_topk(self.qrels, ["q", "q"], np.zeros((2, 1), int), np.zeros((2, 1)), ids)

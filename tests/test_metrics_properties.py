"""Invariants of gcl_nb.metrics under random qrels and runs (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl_nb.metrics import HEADLINE_METRICS, METRIC_COLUMNS, OFFICIAL_METRICS, metric_set, ndcg

grades_st = st.lists(st.integers(0, 100), min_size=1, max_size=30)


@st.composite
def query_case(draw):
    """One query: judged grades, extra unjudged documents in the run, a permutation seed."""
    grades = draw(grades_st)
    n_unjudged = draw(st.integers(0, 15))
    seed = draw(st.integers(0, 2**32 - 1))
    qrels = {"q": {f"d{i}": g for i, g in enumerate(grades)}}
    docs = list(qrels["q"]) + [f"u{i}" for i in range(n_unjudged)]
    return qrels, docs, np.random.default_rng(seed)


def test_the_metric_lists_are_selections_of_the_metric_columns():
    assert OFFICIAL_METRICS == tuple(m for m in METRIC_COLUMNS if m in OFFICIAL_METRICS)
    assert set(HEADLINE_METRICS) <= set(OFFICIAL_METRICS) and HEADLINE_METRICS[0] == "ndcg@10"


@settings(max_examples=60, deadline=None)
@given(query_case(), st.integers(1, 40))
def test_every_metric_is_between_0_and_1(case, cut):
    qrels, docs, rng = case
    run = {"q": {d: float(s) for d, s in zip(docs, rng.normal(size=len(docs)))}}
    values = metric_set(qrels, run)
    assert set(values) == set(METRIC_COLUMNS)
    for name, value in values.items():
        assert 0.0 <= value <= 1.0 + 1e-12, name
    assert 0.0 <= ndcg(qrels, run, cut) <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(query_case(), st.integers(1, 40))
def test_ranking_by_grade_is_perfect_and_never_below_a_shuffle(case, cut):
    qrels, docs, rng = case
    grades = qrels["q"]
    by_grade = {"q": {d: float(grades.get(d, -1)) for d in docs}}  # unjudged last
    shuffled = {"q": {d: float(s) for d, s in zip(docs, rng.permutation(len(docs)))}}
    best, other = metric_set(qrels, by_grade), metric_set(qrels, shuffled)
    if max(grades.values()) > 0:
        assert ndcg(qrels, by_grade, cut) == pytest.approx(1.0)
    assert ndcg(qrels, by_grade, cut) >= ndcg(qrels, shuffled, cut) - 1e-12
    for name in METRIC_COLUMNS:
        assert best[name] >= other[name] - 1e-12, name

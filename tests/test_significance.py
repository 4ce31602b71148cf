"""gcl_nb.evaluation.significance: paired t-test and bootstrap CI over per-query tables."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gcl_nb.evaluation.significance import (
    COMPARISON_COLUMNS,
    RUN_COMPARISON_COLUMNS,
    bootstrap_ci,
    compare,
    compare_runs,
    run_level_test,
)


def per_query(values_by_split, metric="ndcg@10"):
    rows = [{"split": s, "query_id": f"q{i}", metric: v} for s, vs in values_by_split.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_compare_reports_means_gain_ci_and_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 0.6, 200)
    b = np.clip(a + rng.normal(0.05, 0.05, 200), 0, 1)
    noise_a, noise_b = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
    table = compare(
        per_query({"in_domain": a, "zero_shot": noise_a}),
        per_query({"in_domain": b, "zero_shot": noise_b}),
        metrics=["ndcg@10"],
        n_boot=2000,
        seed=1,
    )
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    row = table.set_index("split").loc["in_domain"]
    assert row["diff"] == pytest.approx(b.mean() - a.mean())
    assert row["rel_gain"] == pytest.approx((b.mean() - a.mean()) / a.mean())
    assert row["p_value"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert row["p_value"] < 1e-10 and row["ci_low"] > 0 and row["ci_low"] < row["diff"] < row["ci_high"]
    noise = table.set_index("split").loc["zero_shot"]
    assert noise["ci_low"] < 0 < noise["ci_high"] and noise["n"] == 50
    again = compare(per_query({"in_domain": a}), per_query({"in_domain": b}), metrics=["ndcg@10"], n_boot=2000, seed=1)
    assert again["ci_low"].iloc[0] == row["ci_low"]  # seeded


def test_bootstrap_ci_covers_the_normal_approximation():
    """The percentile bootstrap of a mean of 400 normal values matches mean +- z se. The tolerance, 0.1 se, is 3x
    the Monte Carlo error of a 2.5% quantile from 4000 resamples (0.04 se) and a third of the gap to the next
    wider or narrower common level (a 90% interval's edge lies 0.32 se inside a 95% one's)."""
    rng = np.random.default_rng(3)
    diff = rng.normal(0.1, 1.0, 400)
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    for level, z in ((0.95, 1.95996), (0.90, 1.64485)):
        low, high = bootstrap_ci(diff, 4000, level, np.random.default_rng(0))
        assert low == pytest.approx(diff.mean() - z * se, abs=0.1 * se)
        assert high == pytest.approx(diff.mean() + z * se, abs=0.1 * se)


def test_identical_models_have_zero_difference_and_undefined_p():
    a = per_query({"in_domain": [0.1, 0.5, 0.3]})
    row = compare(a, a.copy(), metrics=["ndcg@10"], n_boot=100).iloc[0]
    assert row["diff"] == 0 and row["ci_low"] == 0 == row["ci_high"]
    assert np.isnan(row["p_value"])


def test_mismatched_tables_are_rejected():
    a = per_query({"in_domain": [0.1, 0.5, 0.3]})
    only_in_a = "1 queries are in only one table, e.g. split 'in_domain', query 'q2' only in a"
    with pytest.raises(ValueError, match=only_in_a):
        compare(a, a.iloc[:2], metrics=["ndcg@10"])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['err'\]"):
        compare(a, a, metrics=["ndcg@10", "err"])
    with pytest.raises(ValueError, match="lists a \\(split, query_id\\) twice"):
        compare(pd.concat([a, a]), a, metrics=["ndcg@10"])
    nan = a.copy()
    nan.loc[0, "ndcg@10"] = np.nan
    with pytest.raises(ValueError, match="missing metric values"):
        compare(a, nan, metrics=["ndcg@10"])


def test_run_level_test_counts_relabelings_of_the_runs():
    # fully separated 3 + 3 runs: 2 of the C(6, 3) = 20 relabelings are as extreme
    p_welch, p_perm = run_level_test([0.2, 0.2, 0.3], [0.5, 0.6, 0.7])
    assert p_perm == pytest.approx(0.1)
    assert p_welch == pytest.approx(stats.ttest_ind([0.5, 0.6, 0.7], [0.2, 0.2, 0.3], equal_var=False).pvalue)
    assert run_level_test([1.0, 2.0], [1.0, 2.0])[1] == 1.0
    # beyond the exact limit the Monte Carlo p stays close to the exact one
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 12), rng.normal(0.8, 1, 12)  # C(24, 12) = 2.7M relabelings
    exact = stats.permutation_test((b, a), lambda x, y: x.mean() - y.mean(), n_resamples=20000, random_state=0).pvalue
    assert run_level_test(a, b)[1] == pytest.approx(exact, abs=0.02)


def test_compare_runs_takes_one_row_per_run():
    results = pd.DataFrame(
        [
            {"method": m, "seed": s, "split": "in_domain", "ndcg@10": v}
            for m, values in (("clip", (0.2, 0.2, 0.3)), ("gcl", (0.5, 0.6, 0.7)))
            for s, v in enumerate(values)
        ]
    )
    row = compare_runs(results, "clip", "gcl", ["ndcg@10"]).iloc[0]
    assert list(compare_runs(results, "clip", "gcl", ["ndcg@10"]).columns) == list(RUN_COMPARISON_COLUMNS)
    assert row["diff"] == pytest.approx(0.6 - 0.7 / 3) and row["p_permutation"] == pytest.approx(0.1)
    assert row["runs_a"] == row["runs_b"] == 3
    with pytest.raises(ValueError, match="no runs of 'bm25'"):
        compare_runs(results, "clip", "bm25", ["ndcg@10"])

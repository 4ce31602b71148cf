"""gcl_nb.significance: paired t-test and bootstrap CI over per-query tables."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gcl_nb.significance import COMPARISON_COLUMNS, bootstrap_ci, compare


def per_query(values_by_split, metric="ndcg@10"):
    rows = [{"split": s, "query_id": f"q{i}", metric: v} for s, vs in values_by_split.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_compare_reports_means_gain_ci_and_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 0.6, 200)
    b = np.clip(a + rng.normal(0.05, 0.05, 200), 0, 1)
    noise_a, noise_b = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
    table = compare(per_query({"in_domain": a, "zero_shot": noise_a}), per_query({"in_domain": b, "zero_shot": noise_b}),
                    metrics=["ndcg@10"], n_boot=2000, seed=1)
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
    rng = np.random.default_rng(3)
    diff = rng.normal(0.1, 1.0, 400)
    low, high = bootstrap_ci(diff, 4000, 0.95, np.random.default_rng(0))
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    assert low == pytest.approx(diff.mean() - 1.96 * se, abs=0.02)
    assert high == pytest.approx(diff.mean() + 1.96 * se, abs=0.02)


def test_identical_models_have_zero_difference_and_undefined_p():
    a = per_query({"in_domain": [0.1, 0.5, 0.3]})
    row = compare(a, a.copy(), metrics=["ndcg@10"], n_boot=100).iloc[0]
    assert row["diff"] == 0 and row["ci_low"] == 0 == row["ci_high"]
    assert np.isnan(row["p_value"])


def test_mismatched_tables_are_rejected():
    a = per_query({"in_domain": [0.1, 0.5, 0.3]})
    with pytest.raises(ValueError, match="1 queries are in only one table, e.g. split 'in_domain', query 'q2' only in a"):
        compare(a, a.iloc[:2], metrics=["ndcg@10"])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['err'\]"):
        compare(a, a, metrics=["ndcg@10", "err"])
    with pytest.raises(ValueError, match="lists a \\(split, query_id\\) twice"):
        compare(pd.concat([a, a]), a, metrics=["ndcg@10"])
    nan = a.copy()
    nan.loc[0, "ndcg@10"] = np.nan
    with pytest.raises(ValueError, match="missing metric values"):
        compare(a, nan, metrics=["ndcg@10"])

"""Is model B better than model A? Paired comparison over the same queries, per split and metric.

For per-query differences d_i = b_i - a_i (n queries):
- paired t-test: t = mean(d) / (sd(d) / sqrt(n)), two-sided p-value (scipy.stats.ttest_rel; NaN when
  all differences are equal, e.g. identical models);
- bootstrap CI of mean(d): resample the n queries with replacement `n_boot` times (seeded), take the
  (1 - confidence)/2 and (1 + confidence)/2 percentiles of the resampled means.
rel_gain = diff / mean_a (NaN when mean_a = 0).

Those tests hold the trained models fixed: they say whether *these* models differ on the queries, not whether
retraining with another seed would. `compare_runs` takes the training run as the unit instead (one split mean
per run): Welch's t-test and an exact permutation test over relabelings of the runs (with 3 runs a side the
smallest attainable permutation p is 0.1).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from gcl_nb.metrics import METRIC_COLUMNS

COMPARISON_COLUMNS = ("split", "metric", "mean_a", "mean_b", "diff", "rel_gain", "ci_low", "ci_high", "p_value", "n")
RUN_COMPARISON_COLUMNS = ("split", "metric", "mean_a", "mean_b", "diff", "p_welch", "p_permutation", "runs_a", "runs_b")
MAX_EXACT_PERMUTATIONS = 100_000  # beyond: a seeded Monte Carlo permutation test
BOOT_CHUNK = 500  # bootstrap resamples drawn at once (bounds memory at BOOT_CHUNK * n indices)


def compare(
    per_query_a: pd.DataFrame,
    per_query_b: pd.DataFrame,
    metrics: Sequence[str] = METRIC_COLUMNS,
    n_boot: int = 10000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """COMPARISON_COLUMNS per (split, metric) from two per-query tables (split_evaluation.per_query_table).

    Queries are paired on (split, query_id); both tables must hold the same queries.
    """
    metrics = list(metrics)
    for name, table in (("a", per_query_a), ("b", per_query_b)):
        missing = [c for c in ("split", "query_id", *metrics) if c not in table.columns]
        if missing:
            raise ValueError(f"per-query table {name} lacks column(s) {missing}")
        if table.duplicated(["split", "query_id"]).any():
            raise ValueError(f"per-query table {name} lists a (split, query_id) twice")
        if table[metrics].isna().any().any():
            raise ValueError(f"per-query table {name} has missing metric values")
    paired = per_query_a.merge(
        per_query_b, on=["split", "query_id"], how="outer", suffixes=("_a", "_b"), indicator=True
    )
    unpaired = paired[paired["_merge"] != "both"]
    if len(unpaired):
        first = unpaired.iloc[0]
        side = "a" if first["_merge"] == "left_only" else "b"
        raise ValueError(
            f"{len(unpaired)} queries are in only one table, e.g. split {first['split']!r}, "
            f"query {first['query_id']!r} only in {side}: compare runs over the same sampled queries"
        )
    rng = np.random.default_rng(seed)
    rows = []
    for split, group in paired.groupby("split", sort=False):
        for metric in metrics:
            a, b = group[f"{metric}_a"].to_numpy(float), group[f"{metric}_b"].to_numpy(float)
            low, high = bootstrap_ci(b - a, n_boot, confidence, rng)
            mean_a, mean_b = a.mean(), b.mean()
            p = stats.ttest_rel(b, a).pvalue if len(a) > 1 else np.nan
            rows.append(
                (
                    split,
                    metric,
                    mean_a,
                    mean_b,
                    mean_b - mean_a,
                    (mean_b - mean_a) / mean_a if mean_a else np.nan,
                    low,
                    high,
                    float(p),
                    len(a),
                )
            )
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def bootstrap_ci(diff: np.ndarray, n_boot: int, confidence: float, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(diff)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(diff)
    means = np.concatenate(
        [diff[rng.integers(0, n, (min(BOOT_CHUNK, n_boot - i), n))].mean(axis=1) for i in range(0, n_boot, BOOT_CHUNK)]
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def compare_runs(
    results: pd.DataFrame, method_a: str, method_b: str, metrics: Sequence[str] = METRIC_COLUMNS, seed: int = 0
) -> pd.DataFrame:
    """RUN_COMPARISON_COLUMNS per (split, metric) from a results table (one row per method, seed and split,
    as gcl_nb.workbench.experiment writes it): method_b's runs against method_a's, each run one observation."""
    rows = []
    for split, group in results.groupby("split", sort=False):
        for metric in metrics:
            a = group.loc[group["method"] == method_a, metric].to_numpy(float)
            b = group.loc[group["method"] == method_b, metric].to_numpy(float)
            if not len(a) or not len(b):
                raise ValueError(f"split {split!r}: no runs of {method_a if not len(a) else method_b!r}")
            p_welch, p_perm = run_level_test(a, b, seed)
            rows.append((split, metric, a.mean(), b.mean(), b.mean() - a.mean(), p_welch, p_perm, len(a), len(b)))
    return pd.DataFrame(rows, columns=list(RUN_COMPARISON_COLUMNS))


def run_level_test(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """(Welch t-test p, two-sided permutation p) for mean(b) - mean(a) over two groups of runs; the
    permutation test is exact up to MAX_EXACT_PERMUTATIONS relabelings, Monte Carlo beyond."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    both, observed = np.concatenate([a, b]), abs(b.mean() - a.mean())
    n = len(both)
    if math.comb(n, len(b)) <= MAX_EXACT_PERMUTATIONS:
        picks = np.array(list(itertools.combinations(range(n), len(b))))
    else:
        rng = np.random.default_rng(seed)
        picks = np.argsort(rng.random((MAX_EXACT_PERMUTATIONS, n)), axis=1)[:, : len(b)]
    in_b = np.zeros((len(picks), n), dtype=bool)
    np.put_along_axis(in_b, picks, True, axis=1)
    diffs = (in_b * both).sum(axis=1) / len(b) - (~in_b * both).sum(axis=1) / len(a)
    p_perm = float(np.mean(np.abs(diffs) >= observed - 1e-12))
    p_welch = float(stats.ttest_ind(b, a, equal_var=False).pvalue) if min(len(a), len(b)) > 1 else np.nan
    return p_welch, p_perm

"""Ranking analysis: metric tables with relative gains, per-query deltas, the ground truth next to each
model's top k, and rank correlation with the ground truth.

Conventions (those of `gcl_nb.workbench.experiment`): a *result table* has one row per (method, split) and the
metric columns of `evaluate()` (`ndcg@10, err, rbp@0.7, ...`); a *per-query table* has one row per
(method, split, query_id) and metric columns; *qrels* map product_id -> grade (>= 1 judged, others 0); a *ranking*
is a list of product ids,
best first.
"""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from scipy import stats

from gcl_nb.data.schema import protocol_order
from gcl_nb.metrics.dcg import dcg, discounts
from gcl_nb.viz.checks import check_columns
from gcl_nb.viz.gallery import ImageLoader, side_by_side_html, table_html


def _methods(df: pd.DataFrame, baseline: str, candidate: str) -> None:
    present = set(df["method"])
    for name in (baseline, candidate):
        if name not in present:
            raise ValueError(f"method {name!r} not in table; methods present: {sorted(present)}")


def metric_bar_figure(results: pd.DataFrame, metric: str = "ndcg@10") -> go.Figure:
    """Grouped bars: `metric` per split, one colour per method."""
    check_columns(results, ("method", "split", metric), "result table")
    order = protocol_order(results["split"], others=False)
    ordered = results.assign(_order=results["split"].map({s: i for i, s in enumerate(order)}))
    ordered = ordered.sort_values("_order", kind="stable").drop(columns="_order")
    fig = px.bar(
        ordered,
        x="split",
        y=metric,
        color="method",
        barmode="group",
        category_orders={"split": order},
        title=f"{metric} per split",
    )
    return fig


def sweep_gain_figure(
    gains: pd.DataFrame, baseline: str = "clip", metric: str = "ndcg@10", strength_label: str = "generator strength"
) -> go.Figure:
    """Relative gain over `baseline` against the sweep's strength: one panel per split, one line per method.
    `gains` is indexed by (strength, split) with one column per method, as
    `gcl_nb.workbench.experiment.sweep_gains` returns it; `baseline` and `metric` label the axes."""
    missing = [level for level in ("strength", "split") if level not in gains.index.names]
    if missing:
        raise ValueError(f"gains table: index lacks {missing}; got {list(gains.index.names)}")
    percent = (100 * gains).stack().rename("gain").reset_index()
    order = protocol_order(percent["split"], others=False)
    fig = px.line(
        percent,
        x="strength",
        y="gain",
        color="method",
        facet_col="split",
        markers=True,
        category_orders={"split": order},
        labels={"gain": f"{metric} gain over {baseline} (%)", "strength": strength_label},
        title=f"When does GCL help? {metric} gain over {baseline} against {strength_label}",
    )
    fig.add_hline(y=0.0, line_dash="dash", line_color="black")
    return fig


def per_query_deltas(per_query: pd.DataFrame, baseline: str, candidate: str, metric: str = "ndcg@10") -> pd.DataFrame:
    """Per (split, query): the two methods' `metric` and delta = candidate - baseline, sorted by delta
    descending (most improved first); per-query values of several seeds are averaged."""
    check_columns(per_query, ("method", "split", "query_id", metric), "per-query table")
    _methods(per_query, baseline, candidate)
    keys = ["split", "query_id"] + (["query"] if "query" in per_query.columns else [])
    wide = per_query.pivot_table(index=keys, columns="method", values=metric, aggfunc="mean")
    out = wide[[baseline, candidate]].dropna().reset_index()
    out["delta"] = out[candidate] - out[baseline]
    return out.sort_values("delta", ascending=False, kind="stable").reset_index(drop=True)


def delta_summary(deltas: pd.DataFrame, tolerance: float = 0.0) -> pd.DataFrame:
    """Per split (protocol order): queries, and the share (%) the candidate helped (delta > tolerance),
    hurt (delta < -tolerance) or left unchanged, with the mean and median delta."""
    check_columns(deltas, ("split", "delta"), "delta table")
    rows = []
    for split in protocol_order(deltas["split"]):
        d = deltas.loc[deltas["split"] == split, "delta"].to_numpy(float)
        helped, hurt = int((d > tolerance).sum()), int((d < -tolerance).sum())
        rows.append(
            {
                "split": split,
                "queries": len(d),
                "helped %": 100 * helped / len(d),
                "hurt %": 100 * hurt / len(d),
                "unchanged %": 100 * (len(d) - helped - hurt) / len(d),
                "mean delta": d.mean(),
                "median delta": float(np.median(d)),
            }
        )
    return pd.DataFrame(rows)


def labelled_significance(tests: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """The candidate's rows of a paired-test table (`gcl_nb.workbench.experiment.significance_table`), with the
    `mean_a` / `mean_b` columns named after the two models, in split order."""
    check_columns(tests, ("method", "split", "mean_a", "mean_b"), "significance table")
    rows = tests[tests["method"] == candidate]
    if rows.empty:
        raise ValueError(f"no test of {candidate!r} in the table; methods: {sorted(set(tests['method']))}")
    rank = {s: i for i, s in enumerate(protocol_order(rows["split"]))}
    rows = rows.sort_values("split", key=lambda col: col.map(rank), kind="stable")
    return rows.drop(columns="method").rename(columns={"mean_a": baseline, "mean_b": candidate}).reset_index(drop=True)


def delta_histogram_figure(deltas: pd.DataFrame, metric: str = "ndcg@10") -> go.Figure:
    """Distribution of per-query deltas, one histogram per split, with the zero line."""
    check_columns(deltas, ("split", "delta"), "delta table")
    order = protocol_order(deltas["split"], others=False)
    fig = px.histogram(
        deltas,
        x="delta",
        color="split",
        barmode="overlay",
        opacity=0.6,
        nbins=40,
        category_orders={"split": order},
        title=f"Per-query {metric} delta (right of 0: the candidate wins)",
    )
    fig.add_vline(x=0.0, line_dash="dash", line_color="black")
    return fig


def ground_truth_table(qrels: Mapping[str, int], titles: Mapping[str, str], k: int = 10) -> pd.DataFrame:
    """The ideal ranking: judged products by grade (descending), top `k`, with rank, title and grade."""
    ordered = sorted(qrels.items(), key=lambda item: (-item[1], item[0]))[:k]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(ordered) + 1),
            "product_id": [p for p, _ in ordered],
            "title": [titles.get(p, "") for p, _ in ordered],
            "grade": [g for _, g in ordered],
        }
    )


def ranked_list_table(
    ranking: Sequence[str], qrels: Mapping[str, int], titles: Mapping[str, str], k: int = 10
) -> pd.DataFrame:
    """A model's top `k` with grade and each item's share of NDCG@k:
    gain_r = g_r / log2(r + 1) / IDCG@k (gcl_nb.metrics.dcg); the column sums to NDCG@k."""
    idcg = dcg(sorted(qrels.values(), reverse=True)[:k])
    top = [str(p) for p in ranking[:k]]
    grades = [int(qrels.get(p, 0)) for p in top]
    ranks = np.arange(1, len(top) + 1)
    gains = np.asarray(grades, dtype=float) * discounts(len(top)) / idcg if idcg > 0 else np.zeros(len(top))
    return pd.DataFrame(
        {
            "rank": ranks,
            "product_id": top,
            "title": [titles.get(p, "") for p in top],
            "grade": grades,
            "ndcg_gain": gains,
        }
    )


def side_by_side_view(
    qrels: Mapping[str, int],
    rankings: Mapping[str, Sequence[str]],
    titles: Mapping[str, str],
    load_image: ImageLoader | None,
    k: int = 10,
    query: str = "",
) -> str:
    """HTML: the ground-truth top `k` next to each model's top `k` (thumbnail, title, grade, rank,
    NDCG gain; the panel title gives the model's NDCG@k)."""
    panels = [table_html(ground_truth_table(qrels, titles, k), load_image, title="ground truth")]
    for model, ranking in rankings.items():
        table = ranked_list_table(ranking, qrels, titles, k)
        panels.append(table_html(table, load_image, title=f"{model}: NDCG@{k} = {table['ndcg_gain'].sum():.3f}"))
    header = f"<h4>{html.escape(query)}</h4>" if query else ""
    return header + side_by_side_html(panels)


def rank_correlation(ranking: Sequence[str], qrels: Mapping[str, int]) -> dict[str, float]:
    """Agreement of a model's order with the ground truth over the query's judged products:
    Kendall tau-b and Spearman rho between -(model rank) and grade. Judged products the model did not
    retrieve share the last rank. NaN when fewer than two judged products or constant grades."""
    judged = list(qrels)
    position = {str(p): r for r, p in enumerate(ranking)}
    missing_rank = len(ranking)
    model_order = np.array([-position.get(p, missing_rank) for p in judged], dtype=float)
    grades = np.array([qrels[p] for p in judged], dtype=float)
    if len(judged) < 2 or np.ptp(grades) == 0 or np.ptp(model_order) == 0:
        return {"kendall_tau": float("nan"), "spearman": float("nan")}
    return {
        "kendall_tau": float(stats.kendalltau(model_order, grades).statistic),
        "spearman": float(stats.spearmanr(model_order, grades).statistic),
    }


def rank_correlation_table(
    rankings: Mapping[str, Mapping[str, Sequence[str]]], qrels: Mapping[str, Mapping[str, int]]
) -> pd.DataFrame:
    """`rankings[method][query_id]` and `qrels[query_id]` -> one row per (method, query_id) with
    kendall_tau and spearman (see `rank_correlation`)."""
    rows = []
    for method, per_query in rankings.items():
        for qid, ranking in per_query.items():
            if qid not in qrels:
                raise ValueError(f"rank_correlation_table: no qrels for query {qid!r} (method {method!r})")
            rows.append({"method": method, "query_id": qid, **rank_correlation(ranking, qrels[qid])})
    return pd.DataFrame(rows, columns=["method", "query_id", "kendall_tau", "spearman"])


def rank_correlation_figure(table: pd.DataFrame, measure: str = "kendall_tau") -> go.Figure:
    """Box plot per method (and split, when the table has one) of the per-query rank correlation with the
    ground truth."""
    check_columns(table, ("method", measure), "rank-correlation table")
    x = "split" if "split" in table.columns else "method"
    fig = px.box(
        table.dropna(subset=[measure]),
        x=x,
        y=measure,
        color="method",
        points="all",
        title=f"Rank correlation with the ground truth ({measure}, per query)",
    )
    fig.add_hline(y=0.0, line_dash="dot", line_color="grey")
    return fig

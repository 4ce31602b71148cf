"""Pictures of the data: the query x corpus structure of the four splits, results per query, score and
position distributions, split overlaps and score-to-weight (STW) curves."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gcl_nb.data.schema import SCORE_COLUMNS, SPLIT_CORPUS, SPLIT_FILE_STEMS, protocol_order
from gcl_nb.viz.checks import check_columns


def split_summary(splits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per split: query set (0 = the 80%, 1 = the 20%), corpus half, #queries, #products, #rows,
    mean and max rows per query."""
    rows = []
    for name in protocol_order(splits, others=False):
        df = splits[name]
        check_columns(df, ("query_id", "product_id"), f"split {name!r}")
        per_query = df.groupby("query_id").size()
        rows.append(
            {
                "split": name,
                "query_set": int(SPLIT_FILE_STEMS[name][6]),
                "corpus": SPLIT_CORPUS[name],
                "queries": df["query_id"].nunique(),
                "products": df["product_id"].nunique(),
                "rows": len(df),
                "rows_per_query_mean": float(per_query.mean()) if len(per_query) else 0.0,
                "rows_per_query_max": int(per_query.max()) if len(per_query) else 0,
            }
        )
    return pd.DataFrame(rows)


def split_structure_figure(summary: pd.DataFrame) -> go.Figure:
    """The 2 x 2 picture of the splits: query sets (rows) x corpus halves (columns), cell = #rows."""
    check_columns(summary, ("split", "query_set", "corpus", "queries", "products", "rows"), "split summary")
    z = np.full((2, 2), np.nan)
    text = [["", ""], ["", ""]]
    for r in summary.itertuples(index=False):
        z[r.query_set, r.corpus - 1] = r.rows
        text[r.query_set][r.corpus - 1] = (
            f"<b>{r.split}</b><br>{r.queries:,} queries<br>{r.products:,} products<br>{r.rows:,} pairs"
        )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=["corpus 1", "corpus 2"],
            y=["query set 0 (80%, training)", "query set 1 (20%, novel)"],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "pairs"},
            hovertemplate="%{y} x %{x}<br>%{z:,} pairs<extra></extra>",
        )
    )
    fig.update_layout(title="The four splits: queries x corpus halves", yaxis={"autorange": "reversed"}, height=380)
    return fig


def results_per_query_figure(splits: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Histogram of the number of ranked products per query, one trace per split."""
    fig = go.Figure()
    for name in protocol_order(splits, others=False):
        counts = splits[name].groupby("query_id").size()
        fig.add_trace(go.Histogram(x=counts.to_numpy(), name=name, opacity=0.6))
    fig.update_layout(
        barmode="overlay", title="Results per query", xaxis_title="products per query", yaxis_title="queries"
    )
    return fig


def score_position_figure(pairs: pd.DataFrame) -> go.Figure:
    """Mean of each score column against position (1 = top): how the three scores grade a ranking."""
    check_columns(pairs, ("position", *SCORE_COLUMNS), "pairs")
    means = pairs.groupby("position")[list(SCORE_COLUMNS)].mean().sort_index()
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(SCORE_COLUMNS))
    for i, column in enumerate(SCORE_COLUMNS, start=1):
        fig.add_trace(
            go.Scatter(x=means.index.to_numpy(), y=means[column].to_numpy(), mode="lines+markers", name=column),
            row=1,
            col=i,
        )
        fig.update_xaxes(title_text="position", row=1, col=i)
    fig.update_layout(title="Scores against position", showlegend=False, height=350)
    return fig


def score_histogram_figure(pairs: pd.DataFrame) -> go.Figure:
    """Histograms of position and of the three score columns over all pairs."""
    columns = ("position", *SCORE_COLUMNS)
    check_columns(pairs, columns, "pairs")
    fig = make_subplots(rows=1, cols=4, subplot_titles=list(columns))
    for i, column in enumerate(columns, start=1):
        fig.add_trace(go.Histogram(x=pairs[column].to_numpy(), name=column, nbinsx=40), row=1, col=i)
    fig.update_layout(title="Distributions of position and scores", showlegend=False, height=320)
    return fig


def stw_weight_figure(
    pairs: pd.DataFrame, stw: Mapping[str, Callable], score_column: str = "score_linear", normalise: bool = True
) -> go.Figure:
    """Training weight w = STW(score) against position, one line per STW function (`gcl_nb.losses.weights`
    functions: float tensor of scores -> weights), applied to the mean score at each position.
    `normalise` plots w / max(w) so curves of different scales compare by shape."""
    check_columns(pairs, ("position", score_column), "pairs")
    by_position = pairs.groupby("position")[score_column].mean().sort_index()
    scores = by_position.to_numpy(dtype=float)
    fig = go.Figure()
    for name, fn in stw.items():
        weights = np.asarray(fn(torch.tensor(scores, dtype=torch.float32)), dtype=float)
        if weights.shape != scores.shape:
            raise ValueError(f"STW {name!r} returned shape {weights.shape} for scores of shape {scores.shape}")
        if normalise and weights.max() > 0:
            weights = weights / weights.max()
        fig.add_trace(go.Scatter(x=by_position.index.to_numpy(), y=weights, mode="lines", name=name))
    fig.update_layout(
        title=f"Training weight per position (STW applied to {score_column})",
        xaxis_title="position",
        yaxis_title="weight / max weight" if normalise else "weight",
    )
    return fig


def split_overlap(splits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Shared query ids and product ids for every pair of splits (the 2-way split design: splits with the
    same query set share queries, splits with the same corpus half share products, others share none)."""
    names = protocol_order(splits, others=False)
    ids = {n: (set(splits[n]["query_id"]), set(splits[n]["product_id"])) for n in names}
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rows.append(
                {
                    "split_a": a,
                    "split_b": b,
                    "shared_queries": len(ids[a][0] & ids[b][0]),
                    "shared_products": len(ids[a][1] & ids[b][1]),
                }
            )
    return pd.DataFrame(rows, columns=["split_a", "split_b", "shared_queries", "shared_products"])


def gallery_queries(pairs: pd.DataFrame, n: int = 3, seed: int = 0) -> list[str]:
    """`n` random query ids of a pair table, reproducible."""
    ids = pd.Series(pairs["query_id"].unique())
    return ids.sample(n=min(n, len(ids)), random_state=seed).tolist()

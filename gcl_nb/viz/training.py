"""Training pictures: curves from history tables (one row per logged step: step, loss, lr, logit_scale, ...; read
one with `gcl_nb.training.run_dir.read_history`) and heatmaps of a batch's matrices (its softmax, its loss targets)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CURVES = ("loss", "logit_scale", "lr")


def training_curves_figure(
    histories: Mapping[str, pd.DataFrame], curves: Sequence[str] = CURVES, x: str = "step"
) -> go.Figure:
    """One panel per curve (loss, logit scale t = exp(log scale), learning rate), one line per run."""
    fig = make_subplots(rows=1, cols=len(curves), subplot_titles=list(curves))
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
    for j, (run, history) in enumerate(histories.items()):
        missing = [c for c in (x, *curves) if c not in history.columns]
        if missing:
            raise ValueError(f"history of run {run!r} lacks columns {missing}; has {list(history.columns)}")
        for i, curve in enumerate(curves, start=1):
            fig.add_trace(
                go.Scatter(
                    x=history[x].to_numpy(),
                    y=history[curve].to_numpy(),
                    mode="lines",
                    name=run,
                    legendgroup=run,
                    showlegend=i == 1,
                    line={"color": palette[j % len(palette)]},
                ),
                row=1,
                col=i,
            )
    for i in range(1, len(curves) + 1):
        fig.update_xaxes(title_text=x, row=1, col=i)
    fig.update_layout(title="Training curves", height=350)
    return fig


def matrices_figure(
    panels: Mapping[str, np.ndarray], labels: Sequence[str] | None = None, title: str = "", zmax: float | None = None
) -> go.Figure:
    """Side-by-side heatmaps of equally shaped square matrices (row i = query i, column j = document j),
    e.g. a batch's softmax beside its loss targets. Each panel has its own colour scale unless `zmax` is given."""
    shapes = {np.asarray(m).shape for m in panels.values()}
    if len(shapes) != 1:
        raise ValueError(f"matrices_figure: panels must share one shape, got {sorted(shapes)}")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.03)
    ticks = list(labels) if labels is not None else None
    for i, matrix in enumerate(panels.values(), start=1):
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(matrix),
                x=ticks,
                y=ticks,
                colorscale="Blues",
                showscale=False,
                zmin=0,
                zmax=zmax,
                hovertemplate="query %{y}<br>document %{x}<br>%{z:.3f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", showticklabels=i == 1, row=1, col=i)
        fig.update_xaxes(showticklabels=False, title_text="document j", row=1, col=i)
    fig.update_yaxes(title_text="query i", row=1, col=1)
    fig.update_layout(title=title, height=340, margin={"t": 70})
    return fig

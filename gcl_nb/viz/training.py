"""Training curves from history tables (one row per logged step: step, loss, lr, logit_scale, ...; read one with
`gcl_nb.training.run_dir.read_history`)."""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CURVES = ("loss", "logit_scale", "lr")


def training_curves_figure(histories: Mapping[str, pd.DataFrame], curves: Sequence[str] = CURVES,
                           x: str = "step") -> go.Figure:
    """One panel per curve (loss, logit scale t = exp(log scale), learning rate), one line per run."""
    fig = make_subplots(rows=1, cols=len(curves), subplot_titles=list(curves))
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
    for j, (run, history) in enumerate(histories.items()):
        missing = [c for c in (x, *curves) if c not in history.columns]
        if missing:
            raise ValueError(f"history of run {run!r} lacks columns {missing}; has {list(history.columns)}")
        for i, curve in enumerate(curves, start=1):
            fig.add_trace(go.Scatter(x=history[x].to_numpy(), y=history[curve].to_numpy(), mode="lines",
                                     name=run, legendgroup=run, showlegend=i == 1,
                                     line={"color": palette[j % len(palette)]}), row=1, col=i)
    for i in range(1, len(curves) + 1):
        fig.update_xaxes(title_text=x, row=1, col=i)
    fig.update_layout(title="Training curves", height=350)
    return fig

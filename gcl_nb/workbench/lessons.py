"""What the lesson notebooks show of the training loss: a real training batch and its three targets, and the
cosines of notebook 2's one-query toy over its training steps.

The first batch the `sampler` batching draws (distinct queries, as training does), cut to `n` rows chosen so
that some of its documents are results of another row's query too: the rows where CLIP's identity target, GCL's
weighted diagonal and the graded multi-positive matrix differ.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gcl_nb.data.batch_sampler import UniqueQueryBatchSampler
from gcl_nb.data.datasets import pair_codes
from gcl_nb.data.pair_lookup import PairLookup
from gcl_nb.losses import GCLLoss


def real_batch(pairs: pd.DataFrame, batch_size: int, n: int, seed: int = 0) -> pd.DataFrame:
    """`n` rows of the first training batch of `pairs` (batch_size distinct queries, seeded as training draws
    them): rows whose document another row's query also has among its results first, then the batch's order."""
    query_codes, _, doc_codes, _ = pair_codes(pairs)
    batch = np.asarray(next(iter(UniqueQueryBatchSampler(query_codes, batch_size, seed=seed))))
    _, present = PairLookup(pairs).find(torch.from_numpy(query_codes[batch]), torch.from_numpy(doc_codes[batch]))
    present.fill_diagonal_(False)
    shared = present.any(dim=0) | present.any(dim=1)  # row i's document is another query's result, or vice versa
    order = np.r_[np.flatnonzero(shared.numpy()), np.flatnonzero(~shared.numpy())]
    return pairs.iloc[batch[np.sort(order[:n])]].reset_index(drop=True)


def batch_targets(
    rows: pd.DataFrame,
    pairs: pd.DataFrame,
    stw: str = "linear",
    rescale: str | None = "mean",
    score_column: str = "score_linear",
) -> dict[str, np.ndarray]:
    """The (n, n) targets of the loss for a batch `rows` of the training table `pairs`, as training builds
    them: CLIP's identity, GCL's weighted diagonal diag(w) and the graded multi-positive matrix T."""
    scores = torch.tensor(rows[score_column].to_numpy(), dtype=torch.float32)
    _, queries, _, products = pair_codes(pairs)  # the codes PairLookup gives the table's queries and products
    query_codes = torch.from_numpy(queries.get_indexer(rows["query"]))
    doc_codes = torch.from_numpy(products.get_indexer(rows["product_id"]))
    lookup = PairLookup(pairs, score_column)
    diag_loss = GCLLoss(stw, rescale=rescale)
    multipos_loss = GCLLoss(stw, rescale=rescale, target="multipos", lookup=lookup)
    weights = diag_loss.rescaling(diag_loss.pair_weight(scores))  # the STW, then the batch rescaling
    return {
        "CLIP: identity": np.eye(len(rows)),
        "GCL: diag(w)": np.diag(weights.numpy()),
        "GCL multi-positive: T": multipos_loss.target_matrix(query_codes, doc_codes).numpy(),
    }


def cosine_trajectories_figure(histories: Mapping[str, np.ndarray], products: Sequence[str]) -> go.Figure:
    """One panel per training (`histories`: name -> (steps, n_products) cosines of the query to each product after
    each step), one line per product (`products`: its label, e.g. its score), on a shared cosine axis."""
    fig = make_subplots(rows=1, cols=len(histories), subplot_titles=list(histories), shared_yaxes=True)
    colours = ("#1a73e8", "#f29900", "#9aa0a6", "#188038", "#d93025")
    for col, history in enumerate(histories.values(), start=1):
        history = np.asarray(history)
        if history.ndim != 2 or history.shape[1] != len(products):
            raise ValueError(
                f"cosine_trajectories_figure: a history of shape {history.shape}, not (steps, {len(products)})"
            )
        for j, label in enumerate(products):
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, len(history) + 1),
                    y=history[:, j],
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    line={"color": colours[j % len(colours)]},
                    hovertemplate=f"{label}<br>step %{{x}}<br>cosine %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="step", row=1, col=col)
    fig.update_yaxes(title_text="cosine(query, product)", row=1, col=1)
    fig.update_layout(height=360, margin={"t": 60})
    return fig

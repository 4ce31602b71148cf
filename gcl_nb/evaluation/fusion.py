"""What each document field contributes: one trained encoder evaluated on each field alone, and fused.

A fused document embedding is a weighted sum of per-field embeddings (gcl_nb.models.multifield), so the
towers of one trained model can be evaluated with any other weights without retraining:
`field_ablation` gives each field alone next to the model's own fusion, `fusion_sweep` moves the weight of
one field from 0 to 1 (the rest share the remainder in their trained proportions).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from gcl_nb.data.schema import SPLITS
from gcl_nb.evaluation.split_evaluation import evaluate
from gcl_nb.models import MultiFieldEncoder

FUSED = "fused"


def _evaluate_weights(encoder: MultiFieldEncoder, weights: Sequence[float], data, splits, top_q, top_k
                      ) -> pd.DataFrame:
    return evaluate(encoder.with_rhs_weights(weights), data, splits, top_q, top_k, search_device="cpu")


def field_ablation(encoder: MultiFieldEncoder, data, splits: Sequence[str] = SPLITS, top_q: int | None = 2000,
                   top_k: int = 1000) -> pd.DataFrame:
    """One row per (fields, split): each document field alone (weight 1, the others 0) and `fused` (the
    encoder's own weights), with the metric columns of gcl_nb.evaluation.split_evaluation."""
    names = [f.name for f in encoder.config.rhs]
    tables = []
    if len(names) > 1:
        for i, name in enumerate(names):
            alone = [1.0 if j == i else 0.0 for j in range(len(names))]
            tables.append(_evaluate_weights(encoder, alone, data, splits, top_q, top_k).assign(fields=name))
    tables.append(evaluate(encoder, data, splits, top_q, top_k, search_device="cpu").assign(fields=FUSED))
    table = pd.concat(tables, ignore_index=True)
    return table[["fields", *[c for c in table.columns if c != "fields"]]]


def fusion_sweep(encoder: MultiFieldEncoder, data, field: str = "image",
                 weights: Sequence[float] = tuple(np.round(np.linspace(0, 1, 11), 2)),
                 splits: Sequence[str] = SPLITS, top_q: int | None = 2000, top_k: int = 1000) -> pd.DataFrame:
    """One row per (weight of `field`, split): `field` gets each weight, the other fields share 1 - weight in
    the proportions the encoder was trained with."""
    names = [f.name for f in encoder.config.rhs]
    if field not in names or len(names) < 2:
        raise ValueError(f"field {field!r} must be one of several document fields, the encoder has {names}")
    i = names.index(field)
    trained = np.asarray(encoder.config.rhs_weights, float)
    others = np.delete(trained, i)
    others = others / others.sum() if others.sum() > 0 else np.full(len(others), 1 / len(others))
    tables = []
    for w in weights:
        vector = np.insert(others * (1 - w), i, w)
        tables.append(_evaluate_weights(encoder, vector.tolist(), data, splits, top_q, top_k)
                      .assign(**{f"{field}_weight": float(w)}))
    table = pd.concat(tables, ignore_index=True)
    return table[[f"{field}_weight", *[c for c in table.columns if c != f"{field}_weight"]]]


def field_table(ablation: pd.DataFrame, metric: str = "ndcg@10") -> pd.DataFrame:
    """`field_ablation`'s rows as a fields x split table of one metric (splits in protocol order)."""
    table = ablation.pivot(index="fields", columns="split", values=metric)
    order = list(dict.fromkeys(ablation["fields"]))
    return table.loc[order, [s for s in SPLITS if s in table.columns]].rename_axis(columns=metric)

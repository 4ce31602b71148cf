"""What each document field contributes: one trained encoder evaluated on each field alone, and fused.

A fused document embedding is a weighted sum of per-field embeddings (gcl_nb.models.multifield), so the
towers of one trained model can be evaluated with any other weights without retraining:
`field_ablation` gives each field alone next to the model's own fusion, `fusion_sweep` moves the weight of one
field from 0 to 1 (the rest share the remainder in their trained proportions), `missing_field_ablation`
adds the fused model on corpora where a field is missing for a share of the products. Each corpus' products are
encoded once, field by field (`encode_product_fields`); every weight vector only re-fuses those embeddings.
Products that a weight vector cannot embed (no present field of nonzero weight, e.g. an empty title when the
title alone is weighted) are left out of that configuration's search and counted in `n_docs_excluded`.
Every function takes the evaluation's settings as one EvalConfig (splits, top_q, top_k, ground_truth,
batch_size, progress; the field embeddings stay in memory, `cache_dir` is not used).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from gcl_nb.data.field_drop import drop_fields
from gcl_nb.data.schema import protocol_order
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.embedding_cache import EmbeddingCache, corpus_key
from gcl_nb.evaluation.encoding import encode_product_fields
from gcl_nb.evaluation.split_evaluation import evaluate_split, summary_table
from gcl_nb.models import MultiFieldEncoder

FUSED = "fused"


class _FieldEmbeddings:
    """The encoder's per-field document embeddings of each corpus of `data`, encoded on first use."""

    def __init__(self, encoder: MultiFieldEncoder, data, config: EvalConfig):
        self.encoder, self.data, self.config = encoder, data, config
        self._by_corpus: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def evaluate(self, weights: Sequence[float] | None) -> pd.DataFrame:
        """The summary table of the encoder fused with `weights` (None: its own) on the config's splits, plus
        `n_docs_excluded`: the corpus' products with no present field of nonzero weight (e.g. no title when the
        title alone is weighted), left out of the search (they rank below every retrieved product)."""
        encoder = self.encoder if weights is None else self.encoder.with_rhs_weights(weights)
        documents = EmbeddingCache(encoder)
        results, excluded, searched = [], [], {}
        for split in self.config.splits:
            corpus = self.data.corpus_for(split)
            key = corpus_key(corpus)
            if key not in searched:  # splits searching the same corpus share its fused documents
                embs, mask = self._fields(corpus)
                keep = encoder.embeddable("rhs", mask)
                searched[key] = (
                    corpus
                    if bool(keep.all())
                    else corpus.restricted(corpus.split, corpus.products.index[keep.numpy()]),
                    int((~keep).sum()),
                )
                with torch.no_grad():
                    documents.store(searched[key][0], encoder.fuse("rhs", embs[keep], mask[keep]).numpy())
            kept, n_excluded = searched[key]
            results.append(
                evaluate_split(encoder, self.data, split, self.config, doc_embeddings=documents, corpus=kept)
            )
            excluded.append(n_excluded)
        return summary_table(results).assign(n_docs_excluded=excluded)

    def _fields(self, corpus) -> tuple[torch.Tensor, torch.Tensor]:
        """(field embeddings, presence mask) of every product of `corpus`, encoded on first use."""
        key = corpus_key(corpus)
        if key not in self._by_corpus:
            self._by_corpus[key] = encode_product_fields(
                self.encoder, corpus, corpus.products.index, self.config.batch_size, self.config.progress
            )
        return self._by_corpus[key]


def field_ablation(encoder: MultiFieldEncoder, data, config: EvalConfig = EvalConfig()) -> pd.DataFrame:
    """One row per (fields, split): each document field alone (weight 1, the others 0) and `fused` (the
    encoder's own weights), with the metric columns of gcl_nb.evaluation.split_evaluation."""
    names = [f.name for f in encoder.config.rhs]
    fields = _FieldEmbeddings(encoder, data, config)
    tables = []
    if len(names) > 1:
        for i, name in enumerate(names):
            alone = [1.0 if j == i else 0.0 for j in range(len(names))]
            tables.append(fields.evaluate(alone).assign(fields=name))
    tables.append(fields.evaluate(None).assign(fields=FUSED))
    table = pd.concat(tables, ignore_index=True)
    return table[["fields", *[c for c in table.columns if c != "fields"]]]


def fusion_sweep(
    encoder: MultiFieldEncoder,
    data,
    field: str = "image",
    weights: Sequence[float] = tuple(np.round(np.linspace(0, 1, 11), 2)),
    config: EvalConfig = EvalConfig(),
) -> pd.DataFrame:
    """One row per (weight of `field`, split): `field` gets each weight, the other fields share 1 - weight in
    the proportions the encoder was trained with."""
    names = [f.name for f in encoder.config.rhs]
    if field not in names or len(names) < 2:
        raise ValueError(f"field {field!r} must be one of several document fields, the encoder has {names}")
    i = names.index(field)
    trained = np.asarray(encoder.config.rhs_weights, float)
    others = np.delete(trained, i)
    others = others / others.sum() if others.sum() > 0 else np.full(len(others), 1 / len(others))
    fields = _FieldEmbeddings(encoder, data, config)
    tables = []
    for w in weights:
        vector = np.insert(others * (1 - w), i, w)
        tables.append(fields.evaluate(vector.tolist()).assign(**{f"{field}_weight": float(w)}))
    table = pd.concat(tables, ignore_index=True)
    return table[[f"{field}_weight", *[c for c in table.columns if c != f"{field}_weight"]]]


def field_table(ablation: pd.DataFrame, metric: str = "ndcg@10") -> pd.DataFrame:
    """`field_ablation`'s rows as a fields x split table of one metric (splits in protocol order)."""
    table = ablation.pivot(index="fields", columns="split", values=metric)
    order = list(dict.fromkeys(ablation["fields"]))
    return table.loc[order, protocol_order(table.columns, others=False)].rename_axis(columns=metric)


def missing_field_ablation(
    encoder: MultiFieldEncoder, data, shares: dict[str, float], seed: int = 0, config: EvalConfig = EvalConfig()
) -> pd.DataFrame:
    """`field_ablation` (each field alone, then `fused`, as `fields`) plus one `fields` value per dropped field,
    `<field>_missing_<share>`: the fused model on the corpora with that field removed from a seeded share of
    the products (gcl_nb.data.field_drop)."""
    names = [f.name for f in encoder.config.rhs]
    tables = [field_ablation(encoder, data, config)]
    for name, share in shares.items():
        incomplete = drop_fields(data, {name: share}, seed=seed, fields=names)
        tables.append(
            _FieldEmbeddings(encoder, incomplete, config).evaluate(None).assign(fields=f"{name}_missing_{share:g}")
        )
    table = pd.concat(tables, ignore_index=True)
    return table[["fields", *[c for c in table.columns if c != "fields"]]]

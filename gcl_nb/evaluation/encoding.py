"""Batched, eval-mode encoding of query texts and corpus products with a MultiFieldEncoder.

The model takes tensors (`tokenize`, `preprocess`, `encode_fields`); the batching lives here: queries in
chunks of `batch_size` texts (each LHS field receives the query text), products through a DataLoader over
gcl_nb.data.datasets.CorpusDataset. Both return CPU float32 (n, d) L2-normalised embeddings, computed in full
float32 on any device (gcl_nb.retrieval.dense.full_float32: no TF32), whatever training left switched on.

Any model with the attributes used here (`config.lhs` / `config.rhs` field lists, `tokenize`,
`transform_eval`, `encode_fields`, `embed_dim`, torch's `training` / `eval` / `train`) can be encoded; a model with
`embed_queries` / `embed_products` (gcl_nb.evaluation.precomputed.EmbeddingTable) is asked for its embeddings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from gcl_nb.data.datasets import CorpusDataset, collate_pairs
from gcl_nb.retrieval.dense import full_float32


def encode_queries(model, texts: Sequence[str], batch_size: int = 256, progress: bool = False) -> Tensor:
    """CPU float32 (n, d) L2-normalised query embeddings (looked up for an EmbeddingTable)."""
    texts = list(texts)
    if hasattr(model, "embed_queries"):
        return model.embed_queries(texts)
    chunks = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    batches = (({f.name: tokens for f in model.config.lhs}, None) for tokens in map(model.tokenize, chunks))
    return _encode_side(model, "lhs", batches, len(chunks), progress, "queries")


def encode_products(model, corpus, product_ids: Sequence[str], batch_size: int = 256, progress: bool = False) -> Tensor:
    """CPU float32 (n, d) L2-normalised embeddings of products of a gcl_nb.data Corpus.

    Text fields come from `corpus.products`, images through `corpus.load_image` (eval preprocessing); a
    missing image or empty text is masked out of the fusion. An EmbeddingTable's are looked up.
    """
    if hasattr(model, "embed_products"):
        return model.embed_products(corpus, product_ids)
    batches, total = _product_batches(model, corpus, product_ids, batch_size)
    return _encode_side(model, "rhs", batches, total, progress, "products")


def encode_product_fields(
    model, corpus, product_ids: Sequence[str], batch_size: int = 256, progress: bool = False
) -> tuple[Tensor, Tensor]:
    """Each document field of the products on its own, before fusion: CPU float32 (n, F, d) field embeddings
    and the (n, F) bool mask of present fields. `model.fuse("rhs", embs, mask)` gives `encode_products`'
    embeddings for any field weights without encoding again (gcl_nb.evaluation.fusion)."""
    batches, total = _product_batches(model, corpus, product_ids, batch_size)
    parts = _in_eval_mode(
        model,
        lambda fields, mask: (model.field_embeddings("rhs", fields).float().cpu(), mask),
        batches,
        total,
        progress,
        "product fields",
    )
    if not parts:
        n_fields = len(model.config.rhs)
        return torch.empty(0, n_fields, model.embed_dim), torch.empty(0, n_fields, dtype=torch.bool)
    return torch.cat([e for e, _ in parts]), torch.cat([m for _, m in parts]).bool()


def _product_batches(model, corpus, product_ids: Sequence[str], batch_size: int) -> tuple[Iterable, int]:
    """((fields, mask) batches of the products, number of batches); unknown ids raise ValueError."""
    ids = [str(p) for p in product_ids]
    unknown = [p for p in ids if p not in corpus.products.index]
    if unknown:
        raise ValueError(f"{len(unknown)} product ids are not in corpus {corpus.half}, e.g. {unknown[:3]}")
    dataset = CorpusDataset(corpus, ids, [(f.name, f.kind) for f in model.config.rhs], model.transform_eval)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=partial(collate_pairs, tokenize=model.tokenize))
    return ((batch["fields"], batch["field_mask"]) for batch in loader), len(loader)


def _encode_side(model, side: str, batches: Iterable, total: int, progress: bool, desc: str) -> Tensor:
    """Eval-mode fused embeddings of (fields, mask) batches, concatenated on the CPU as float32."""
    out = _in_eval_mode(
        model,
        lambda fields, mask: model.encode_fields(side, fields, mask).float().cpu(),
        batches,
        total,
        progress,
        desc,
    )
    return torch.cat(out) if out else torch.empty(0, model.embed_dim)


@torch.no_grad()
def _in_eval_mode(model, encode: Callable, batches: Iterable, total: int, progress: bool, desc: str) -> list:
    """[encode(fields, mask) for each batch], with the model in eval mode, no gradients and full float32 (its
    train/eval mode is restored after)."""
    was_training = model.training
    model.eval()
    try:
        with full_float32():
            return [
                encode(fields, mask) for fields, mask in tqdm(batches, total=total, desc=desc, disable=not progress)
            ]
    finally:
        model.train(was_training)

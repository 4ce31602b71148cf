"""Document embeddings of whole corpora, encoded once: on disk per (model fingerprint, corpus) with
`encode_corpus`, and in memory per corpus of one model with `EmbeddingCache` (over `encode_corpus`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gcl_nb.evaluation.encoding import encode_products

ENCODE_CHUNK = 65536  # products per encode_products call: written to the cache file chunk by chunk


def model_fingerprint(model) -> str:
    """Identity of a model's weights and configuration, for the embedding cache.

    Uses `model.fingerprint` (attribute or method) when present, else hashes the state_dict and `config`.
    """
    fp = getattr(model, "fingerprint", None)
    if fp is not None:
        return str(fp() if callable(fp) else fp)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"cannot fingerprint a {type(model).__name__} for the embedding cache: give it a "
            "`fingerprint` attribute or evaluate with cache_dir=None"
        )
    h = hashlib.sha256(repr(getattr(model, "config", None)).encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def corpus_fingerprint(corpus) -> str:
    """Hash of the corpus half: product ids, every column of `corpus.products` and the products without image."""
    hashed = pd.util.hash_pandas_object(corpus.products, index=True).to_numpy()
    without_image = "\n".join(sorted(getattr(corpus, "without_image", ()))).encode()
    return hashlib.sha256(f"half{corpus.half}".encode() + hashed.tobytes() + without_image).hexdigest()


def encode_corpus(
    model, corpus, batch_size: int = 256, cache_dir: str | Path | None = None, progress: bool = False
) -> np.ndarray:
    """(n_products, d) float32 embeddings of every product of `corpus`, in `corpus.products` order.

    With `cache_dir`, read from / written to `docs-<model>-<corpus>.npy` there (memory-mapped when read).
    """
    ids = corpus.products.index.astype(str).tolist()
    path = None
    if cache_dir is not None:
        key = hashlib.sha256((model_fingerprint(model) + corpus_fingerprint(corpus)).encode()).hexdigest()[:24]
        path = Path(cache_dir) / f"docs-half{corpus.half}-{key}.npy"
        if path.is_file():
            cached = np.load(path, mmap_mode="r")
            if cached.shape[0] == len(ids):
                return cached
    if not ids:
        raise ValueError(f"corpus half {corpus.half} is empty: nothing to encode")
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy") if path is not None else None
    out = None
    for start in range(0, len(ids), ENCODE_CHUNK):
        emb = encode_products(
            model, corpus, ids[start : start + ENCODE_CHUNK], batch_size=batch_size, progress=progress
        ).numpy()
        if out is None:
            shape = (len(ids), emb.shape[1])
            if tmp is None:
                out = np.empty(shape, dtype=np.float32)
            else:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        out[start : start + len(emb)] = emb
    if tmp is None:
        return out
    out.flush()
    del out
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


def corpus_key(corpus) -> tuple[int, str | None]:
    """What tells the corpora of one data set apart: (half, split), split None for a whole half (load_gs
    corpus="half") or the split whose own products it holds (corpus="split")."""
    return corpus.half, corpus.split


class EmbeddingCache:
    """One model's document embeddings per corpus (`corpus.half`, `corpus.split`) of one data set, encoded
    once: kept in memory and, with `cache_dir`, read from / written to disk by `encode_corpus`."""

    def __init__(self, model, cache_dir: str | Path | None = None, batch_size: int = 256, progress: bool = False):
        self.model, self.cache_dir, self.batch_size, self.progress = model, cache_dir, batch_size, progress
        self._documents: dict[tuple[int, str | None], np.ndarray] = {}

    def documents(self, corpus) -> np.ndarray:
        """(n_products, d) float32 embeddings of every product of `corpus`, in `corpus.products` order."""
        key = corpus_key(corpus)
        if key not in self._documents:
            self._documents[key] = encode_corpus(self.model, corpus, self.batch_size, self.cache_dir, self.progress)
        return self._documents[key]

    def store(self, corpus, embeddings: np.ndarray) -> None:
        """Use `embeddings` ((n_products, d), `corpus.products` order) as the model's documents of `corpus`,
        e.g. fused from cached field embeddings (gcl_nb.evaluation.fusion)."""
        if len(embeddings) != len(corpus.products):
            raise ValueError(f"{len(embeddings)} embeddings for the {len(corpus.products)} products of {corpus.name}")
        self._documents[corpus_key(corpus)] = np.asarray(embeddings, dtype=np.float32)

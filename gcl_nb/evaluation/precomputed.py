"""Embeddings made by another system, evaluated with the protocol as a model is: `EmbeddingTable`.

Query embeddings are keyed by the query text (as the splits key queries), document embeddings by product id.
Files:
- parquet: columns `query` (or `product_id`) and `embedding` (a list of floats per row);
- `.npz`: arrays `ids` and `embeddings` (n, d);
- `.pt`: the official evaluator's pre-embedding files (evals/eval_gs_v1_pre_emb.py `--query-features-path`,
  `--features-path`): a list of 1-d tensors (or an (n, d) tensor), positional: the queries of ONE split's pair
  file in first-seen order, and every product of its corpus half in the corpus file's order.
Rows are L2-normalised (the search ranks by cosine similarity, as the official evaluator's inner product over
normalised features does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gcl_nb.data.schema import SPLIT_CORPUS, DataError, SettingError

EMBEDDING_SUFFIXES = (".parquet", ".npz", ".pt")


def _read_parquet(path: Path, id_column: str) -> tuple[list[str], np.ndarray]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow's errors for a file that is not parquet
        raise DataError(f"{path}: not a readable parquet file ({str(err)[:200]})") from None
    missing = [c for c in (id_column, "embedding") if c not in table.column_names]
    if missing:
        raise DataError(
            f"{path}: no column {' or '.join(missing)} (it has {', '.join(table.column_names)}); write the "
            f"columns {id_column!r} and 'embedding' (a list of floats per row)"
        )
    column = table.column("embedding").combine_chunks()
    if not hasattr(column, "flatten"):
        raise DataError(f"{path}: column 'embedding' holds {column.type}, not a list of floats per row")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) and (np.isnan(lengths.astype(float)).any() or (lengths != lengths[0]).any()):
        row = int(np.flatnonzero(np.isnan(lengths.astype(float)) | (lengths != lengths[0]))[0])
        raise DataError(f"{path}, row {row}: its embedding has {lengths[row]} values, row 0's has {lengths[0]}")
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    ids = [str(x) for x in table.column(id_column).to_pylist()]
    return ids, values.reshape(len(ids), int(lengths[0]) if len(ids) else 0)


def _read_npz(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("ids", "embeddings") if k not in npz.files]
            if missing:
                raise DataError(f"{path}: no array {' or '.join(missing)} (it has {', '.join(npz.files)})")
            return [str(x) for x in npz["ids"]], np.asarray(npz["embeddings"], dtype=np.float32)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npz file ({str(err)[:200]})") from None


def _read_torch(path: Path) -> np.ndarray:
    try:
        features = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise DataError(f"{path}: not a readable torch file ({type(err).__name__}: {str(err)[:200]})") from None
    if isinstance(features, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in features) and features:
        features = torch.stack([t.reshape(-1) for t in features])
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        raise DataError(f"{path}: expected a list of 1-d tensors or an (n, d) tensor, as the official evaluator saves")
    return features.float().numpy()


def read_embeddings(path: str | Path, id_column: str, positional_ids: Sequence[str] | None = None):
    """(ids, (n, d) float32) from a parquet, .npz or official .pt file (`positional_ids`: the ids of a .pt
    file's rows, in order). DataError naming the file for a bad file, duplicate ids, a non-finite value."""
    path = Path(path)
    if not path.is_file():
        raise SettingError(f"{path}: no such embeddings file")
    if path.suffix not in EMBEDDING_SUFFIXES:
        raise SettingError(f"{path}: embeddings must be a {', '.join(EMBEDDING_SUFFIXES)} file")
    if path.suffix == ".parquet":
        ids, matrix = _read_parquet(path, id_column)
    elif path.suffix == ".npz":
        ids, matrix = _read_npz(path)
    else:
        if positional_ids is None:
            raise SettingError(
                f"{path}: an official pre-embedding file is positional: evaluate one split (--splits NAME) so its "
                "rows can be matched to that split's queries and corpus"
            )
        matrix, ids = _read_torch(path), [str(i) for i in positional_ids]
        if len(matrix) != len(ids):
            raise DataError(
                f"{path}: {len(matrix)} rows for the {len(ids)} {id_column} entries it must hold in order; was it "
                "made for this split's pair file and corpus?"
            )
    if matrix.ndim != 2 or len(matrix) != len(ids) or matrix.shape[1] == 0:
        raise DataError(f"{path}: expected one embedding per id, got {matrix.shape} for {len(ids)} ids")
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        raise DataError(f"{path}: {id_column} {ids[int(np.flatnonzero(duplicated)[0])]!r} appears twice")
    bad = ~np.isfinite(matrix).all(axis=1) | (np.linalg.norm(matrix, axis=1) == 0)
    if bad.any():
        first = ids[int(np.flatnonzero(bad)[0])]
        raise DataError(f"{path}: the embedding of {id_column} {first!r} is zero or not finite")
    return ids, matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


class EmbeddingTable:
    """A "model" whose embeddings are looked up: query texts and product ids -> precomputed vectors.

    gcl_nb.evaluation.encoding asks `embed_queries` / `embed_products` instead of encoding, so the protocol, the
    per-query tables and the explorer treat it as any model. A query or product without an embedding is a
    DataError naming it and the file.
    """

    device = torch.device("cpu")
    training = False  # nothing to switch between training and evaluation

    def __init__(
        self,
        queries: tuple[list[str], np.ndarray],
        documents: tuple[list[str], np.ndarray],
        files: tuple[str, str] = ("queries", "documents"),
    ):
        (query_ids, query_matrix), (doc_ids, doc_matrix) = queries, documents
        self.query_file, self.doc_file = files
        if query_matrix.shape[1] != doc_matrix.shape[1]:
            raise DataError(
                f"{self.query_file} holds {query_matrix.shape[1]}-dimensional embeddings and {self.doc_file} "
                f"{doc_matrix.shape[1]}-dimensional ones: both sides must come from one embedding space"
            )
        self._queries = pd.Index(query_ids)
        self._docs = pd.Index(doc_ids)
        self._query_matrix = torch.from_numpy(np.ascontiguousarray(query_matrix, dtype=np.float32))
        self._doc_matrix = torch.from_numpy(np.ascontiguousarray(doc_matrix, dtype=np.float32))
        self.embed_dim = int(query_matrix.shape[1])
        self.source = {"name": f"{self.query_file} + {self.doc_file}", "kind": "embeddings"}

    @classmethod
    def read(cls, query_file, doc_file, data=None, split: str | None = None) -> "EmbeddingTable":
        """Read two files (see the module docstring); official `.pt` files need the `data` and the one `split`
        they were made for."""
        query_order = doc_order = None
        if Path(query_file).suffix == ".pt" or Path(doc_file).suffix == ".pt":
            if data is not None and split is not None:
                query_order = data.split(split)["query"].drop_duplicates().tolist()
                doc_order = data.corpora[SPLIT_CORPUS[split]].products.index.astype(str).tolist()
        return cls(
            read_embeddings(query_file, "query", query_order),
            read_embeddings(doc_file, "product_id", doc_order),
            files=(str(query_file), str(doc_file)),
        )

    def fingerprint(self) -> str:
        """Identity of the embeddings, for an on-disk embedding cache (hashed only when one asks)."""
        h = hashlib.sha256(self._query_matrix.numpy().tobytes() + self._doc_matrix.numpy().tobytes())
        h.update("\n".join([*self._queries, "", *self._docs]).encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"EmbeddingTable({self.source['name']}: {len(self._queries)} queries, {len(self._docs)} products)"

    def _lookup(self, index: pd.Index, matrix: torch.Tensor, keys: Sequence[str], what: str, file: str):
        positions = index.get_indexer([str(k) for k in keys])
        if (positions < 0).any():
            missing = [str(k) for k, p in zip(keys, positions) if p < 0]
            raise DataError(
                f"{file}: no embedding for {len(missing)} {what}(s) the evaluation needs, e.g. {missing[0]!r}; "
                f"embed every {what} of the evaluated splits"
            )
        return matrix[torch.from_numpy(positions)]

    def embed_queries(self, texts: Sequence[str]) -> torch.Tensor:
        """(n, d) CPU float32 unit vectors of the query texts."""
        return self._lookup(self._queries, self._query_matrix, texts, "query", self.query_file)

    def embed_products(self, corpus, product_ids: Sequence[str]) -> torch.Tensor:
        """(n, d) CPU float32 unit vectors of the products."""
        return self._lookup(self._docs, self._doc_matrix, product_ids, "product", self.doc_file)

    def eval(self) -> "EmbeddingTable":
        """Itself, as `model.eval()` returns a model."""
        return self

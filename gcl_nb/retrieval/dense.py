"""Top-k retrieval by cosine similarity: exact and chunked (bounded memory), or through a faiss index.

Inputs are L2-normalised float32 embeddings (torch tensors or numpy arrays, numpy memmaps included),
so cosine similarity is the inner product. Results are (scores, indices), both (n_queries, k) with
k capped by the corpus size, each row sorted by score descending. Which of several documents with
exactly equal scores enters the top k at its boundary is unspecified; the metrics re-rank ties by
document id (see gcl_nb.metrics.ranked_grades).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

FAISS_KINDS = ("flat", "hnsw", "ivf")
TILE = 2048  # documents per score tile: a query_batch x TILE tile stays in cache for the pruning pass
GROUP = 32  # columns per group when pruning a tile
NORM_TOLERANCE = 1e-3


def exact_topk(
    queries, docs, k: int, query_batch: int = 1024, doc_batch: int = 262144, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k documents per query by inner product, chunked over documents and queries.

    Documents are read once, `doc_batch` rows at a time (a memmap stays on disk). Scores are computed in
    (query_batch x TILE) tiles into one reused buffer (8 MiB by default), and every query keeps a running
    top k. Peak extra memory: the document chunk, the tile, and about 64 bytes per query and per k for the
    running top k, its pending candidates and their merge, whatever the corpus size.

    A full top-k over every tile would cost about as much as the matrix product on a CPU, so tiles are
    pruned: only the entries above the query's current k-th score become candidates (`_candidates`), and
    they are merged into the running top k once a query has k of them pending. Measured throughput
    against the plain matrix product: benchmarks/results.md. A document row of zeros is a product that has
    none of the fields the embedding uses (gcl_nb.evaluation.fusion): it scores 0 against every query.
    Products run in full float32 on every device (`full_float32`). Returns CPU float32 scores and int64 indices.
    """
    with full_float32():
        return _exact_topk(queries, docs, k, query_batch, doc_batch, device)


@contextmanager
def full_float32():
    """float32 matrix products and convolutions in full precision within the block, whatever the process set
    (training turns TF32 on for CUDA; cuDNN convolutions use it by default); the settings are restored after.
    Measured on an H100 with TF32 left on: 4% of queries changed their top 10 against the CPU
    (scripts/gpu_eval_devices.py)."""
    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


def _exact_topk(queries, docs, k: int, query_batch: int, doc_batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    queries = _as_tensor(queries, "queries").to(device)
    n_docs, dim = docs.shape
    if queries.shape[1] != dim:
        raise ValueError(f"queries have dimension {queries.shape[1]} but documents {dim}")
    _check_normalised(queries, "queries", 0)
    k = min(int(k), n_docs)
    if k < 1:
        raise ValueError(f"k must be >= 1 and the corpus non-empty (k={k}, {n_docs} documents)")
    batches = [slice(q0, q0 + query_batch) for q0 in range(0, len(queries), query_batch)]
    tops = [_RunningTopK(len(queries[rows]), k, device) for rows in batches]
    buffer = torch.empty(min(query_batch, len(queries)) * min(TILE, n_docs), device=device)
    for start in range(0, n_docs, doc_batch):
        block = _as_tensor(docs[start : start + doc_batch], "documents").to(device)
        _check_normalised(block, "documents", start, allow_zero=True)
        for rows, top in zip(batches, tops):
            for t0 in range(0, len(block), TILE):
                tile = block[t0 : t0 + TILE]
                sims = buffer[: top.n * len(tile)].view(top.n, len(tile))
                torch.mm(queries[rows], tile.T, out=sims)
                top.add(sims, start + t0)
    for top in tops:
        top.merge()
    return torch.cat([top.scores for top in tops]).cpu(), torch.cat([top.index for top in tops]).cpu()


class _RunningTopK:
    """The best k (score, document index) of each of n queries so far, plus candidates pending a merge."""

    def __init__(self, n: int, k: int, device):
        self.n, self.k = n, k
        self.scores = torch.full((n, k), -torch.inf, device=device)
        self.index = torch.full((n, k), -1, dtype=torch.int64, device=device)
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.pending_per_row = torch.zeros(n, dtype=torch.int64, device=device)

    def add(self, sims: torch.Tensor, offset: int) -> None:
        """Take the scores of a tile (n, width) whose column j is document offset + j."""
        n, width = sims.shape
        rows, columns, scores = _candidates(sims, self.scores[:, -1:])
        if 4 * len(rows) > n * width:  # a good part of the tile (early on): merge it whole
            self.merge(sims, torch.arange(offset, offset + width, device=sims.device).expand(n, width))
            return
        counts = torch.bincount(rows, minlength=n)
        within_tile = torch.arange(len(rows), device=rows.device) - (counts.cumsum(0) - counts)[rows]
        slots = self.pending_per_row[rows] + within_tile  # rows arrive sorted from _candidates
        self.pending.append((rows, slots, columns + offset, scores))
        self.pending_per_row += counts
        if int(self.pending_per_row.max()) >= self.k:
            self.merge()

    def merge(self, *dense: torch.Tensor) -> None:
        """Fold the pending candidates, and the (scores, index) columns `dense` if given, into the top k."""
        width = int(self.pending_per_row.max()) if self.pending else 0
        all_scores = torch.cat([self.scores, *dense[:1], self.scores.new_full((self.n, width), -torch.inf)], dim=1)
        all_index = torch.cat([self.index, *dense[1:], self.index.new_full((self.n, width), -1)], dim=1)
        if self.pending:
            rows, slots, index, scores = (torch.cat(parts) for parts in zip(*self.pending))
            first = all_scores.shape[1] - width
            all_scores[rows, first + slots], all_index[rows, first + slots] = scores, index
        self.scores, pick = torch.topk(all_scores, self.k, dim=1)
        self.index = torch.gather(all_index, 1, pick)
        self.pending = []
        self.pending_per_row.zero_()


def _candidates(sims: torch.Tensor, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(row, column, score) of every entry of `sims` (n, width) above its row's `threshold` (n, 1).

    The columns are cut into GROUP-wide groups; only groups whose maximum beats the threshold are read
    again, so a tile costs one pass over memory that is still in cache.
    """
    n, width = sims.shape
    padded = sims if width % GROUP == 0 else F.pad(sims, (0, -width % GROUP), value=-torch.inf)
    groups = padded.view(n, -1, GROUP)
    rows, group = torch.nonzero(groups.amax(dim=2) > threshold, as_tuple=True)
    values = groups[rows, group]
    pick, within = torch.nonzero(values > threshold[rows], as_tuple=True)
    return rows[pick], group[pick] * GROUP + within, values[pick, within]


def build_faiss_index(
    docs, kind: str = "flat", hnsw_m: int = 32, ef_construction: int = 80, nlist: int | None = None, seed: int = 0
):
    """A faiss inner-product index over `docs`: "flat" (exact), "hnsw" or "ivf" (approximate).

    IVF uses nlist = 4 * sqrt(n) lists by default, trained on at most 256 * nlist documents.
    """
    import faiss

    if kind not in FAISS_KINDS:
        raise ValueError(f"unknown faiss index kind {kind!r}: choose one of {', '.join(FAISS_KINDS)}")
    x = _as_numpy(docs)
    _check_normalised(torch.from_numpy(x), "documents", 0)
    dim = x.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    else:
        nlist = nlist or max(1, int(4 * np.sqrt(len(x))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).permutation(len(x))[: 256 * nlist]
        index.train(x[np.sort(sample)])
    index.add(x)
    return index


def faiss_topk(
    index, queries, k: int, ef_search: int | None = None, nprobe: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Search a `build_faiss_index` index: (scores, indices) as torch tensors, index -1 where an
    approximate index found fewer than k documents. `ef_search` (HNSW) defaults to max(k, 64)."""
    import faiss

    x = _as_numpy(queries)
    _check_normalised(torch.from_numpy(x), "queries", 0)
    k = min(int(k), index.ntotal)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = max(k, ef_search or 64)
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = nprobe
    scores, indices = index.search(x, k)
    return torch.from_numpy(scores), torch.from_numpy(indices.astype(np.int64))


def _as_tensor(x, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = np.ascontiguousarray(x)
        x = torch.from_numpy(x if x.flags.writeable else x.copy())  # read-only memmap slice
    if x.ndim != 2 or x.dtype != torch.float32:
        raise ValueError(f"{what} must be a 2-d float32 array, got shape {tuple(x.shape)} {x.dtype}")
    return x


def _as_numpy(x) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    return np.ascontiguousarray(_as_tensor(np.asarray(x), "embeddings").numpy())


def _check_normalised(x: torch.Tensor, what: str, offset: int, allow_zero: bool = False) -> None:
    """Raise unless every row has unit L2 norm (or, with allow_zero, is all zeros; NaN rows fail too)."""
    norms = torch.linalg.vector_norm(x, dim=1)
    ok = (norms - 1).abs() <= NORM_TOLERANCE
    bad = torch.nonzero(~(ok | (norms == 0)) if allow_zero else ~ok)
    if len(bad):
        row = int(bad[0])
        raise ValueError(
            f"{what} row {offset + row} has L2 norm {float(norms[row]):.4g}: embeddings must be "
            "L2-normalised (torch.nn.functional.normalize) and finite"
        )

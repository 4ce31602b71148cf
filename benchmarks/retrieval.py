"""Retrieval: exact top-k search (gcl_nb.retrieval.dense.exact_topk) vs a plain torch matmul of the same shape, and
faiss IndexFlatIP on the same data; peak extra memory vs corpus size.

Workload: random L2-normalised float32 vectors, 1M documents x 512 (2 GiB) and 2,000 queries, top 1,000 (the
protocol's top_k); --quick: 20k x 512 documents, 100 queries, top 100. GFLOP/s counts the matrix product only,
2 * n_queries * n_docs * d, for every candidate. The plain matmul is the same work without any top-k: the
products of (query_batch x doc_batch) blocks at exact_topk's defaults, each written into one reused output
buffer (a single unchunked product would need n_queries * n_docs * 4 bytes, 8 GB here).
Memory: resident-set high-water mark during the call minus the RSS before it (benchmarks.harness), with the
documents already in memory; the full score matrix that chunking avoids is shown for comparison.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F

from benchmarks.harness import Report, Target, fmt_bytes, fmt_time, interleaved, peak_rss_delta
from gcl_nb.retrieval.dense import TILE, build_faiss_index, exact_topk, faiss_topk

DIM = 512
_DEFAULTS = inspect.signature(exact_topk).parameters
QUERY_BATCH, DOC_BATCH = _DEFAULTS["query_batch"].default, _DEFAULTS["doc_batch"].default
GEN_BLOCK = 65536


def _unit_vectors(n: int, seed: int) -> torch.Tensor:
    out = torch.empty(n, DIM)
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, n, GEN_BLOCK):  # block by block: no second 2 GiB temporary
        block = torch.randn(min(GEN_BLOCK, n - start), DIM, generator=gen)
        out[start : start + len(block)] = F.normalize(block, dim=1)
    return out


def _plain_matmul(queries: torch.Tensor, docs: torch.Tensor):
    out = torch.empty(min(QUERY_BATCH, len(queries)), min(DOC_BATCH, len(docs)))

    def call():
        for d0 in range(0, len(docs), DOC_BATCH):
            block = docs[d0 : d0 + DOC_BATCH]
            for q0 in range(0, len(queries), QUERY_BATCH):
                rows = queries[q0 : q0 + QUERY_BATCH]
                torch.mm(rows, block.T, out=out[: len(rows), : len(block)])

    return call


def run(report: Report, quick: bool) -> None:
    n_docs, n_queries, k = (20_000, 100, 100) if quick else (1_000_000, 2000, 1000)
    memory_sizes = (5_000, 10_000, n_docs) if quick else (100_000, 300_000, n_docs)
    docs, queries = _unit_vectors(n_docs, seed=0), _unit_vectors(n_queries, seed=1)
    gflop = 2 * n_queries * n_docs * DIM / 1e9
    work = f"{n_docs:,} x {DIM} docs, {n_queries:,} queries, top {k}"

    t = interleaved(
        {"exact_topk": lambda: exact_topk(queries, docs, k), "matmul": _plain_matmul(queries, docs)},
        budget_s=1.0 if quick else 60.0,
        min_repeats=3,
        warmup=1,
    )
    ours, plain = t["exact_topk"].median, t["matmul"].median
    report.row(
        "retrieval",
        "exact_topk / plain matmul GFLOP/s",
        f"{work}, median of {t['matmul'].repeats}",
        f"{gflop / ours:.0f} vs {gflop / plain:.0f} GFLOP/s ({fmt_time(ours)} vs {fmt_time(plain)})",
        plain / ours,
        Target(">=", 0.70),
    )

    for n in memory_sizes:  # the largest size is the whole corpus: its result is compared with faiss's
        (ours_scores, _), peak = peak_rss_delta(lambda: exact_topk(queries, docs[:n], k))
        report.row(
            "retrieval",
            "exact_topk peak extra memory (RSS)",
            f"{n:,} docs, {n_queries:,} queries, top {k}",
            f"{fmt_bytes(peak)} (full score matrix: {fmt_bytes(n_queries * n * 4)})",
        )

    import faiss

    faiss.omp_set_num_threads(torch.get_num_threads())
    index = build_faiss_index(docs.numpy(), "flat")
    scores, _ = faiss_topk(index, queries, k)  # also warms faiss up
    torch.testing.assert_close(ours_scores, scores, rtol=0, atol=1e-4)
    t_faiss = interleaved({"faiss": lambda: faiss_topk(index, queries, k)}, budget_s=1.0 if quick else 30.0, warmup=0)[
        "faiss"
    ]
    report.row(
        "retrieval",
        "faiss IndexFlatIP GFLOP/s (reference) / exact_topk",
        f"{work}, median of {t_faiss.repeats}",
        f"{gflop / t_faiss.median:.0f} vs {gflop / ours:.0f} GFLOP/s "
        f"({fmt_time(t_faiss.median)} vs {fmt_time(ours)}); same top-k scores",
        ours / t_faiss.median,
    )
    report.note(
        "retrieval",
        f"faiss and torch both use {torch.get_num_threads()} threads. The faiss row is a "
        "reference, without target. The top-k scores of faiss and exact_topk agree within 1e-4. Peak "
        "memory: RSS high-water mark above the RSS before the call, documents already resident; "
        f"exact_topk holds one score tile (query_batch x TILE = {QUERY_BATCH} x {TILE} floats by "
        "default), the running top k with its pending candidates, and a document chunk when the "
        "documents are a memmap, whatever the corpus size.",
    )

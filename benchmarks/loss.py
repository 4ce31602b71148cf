"""Loss: GCLLoss (diagonal and multi-positive targets) vs open_clip's ClipLoss, forward + backward on the same
embeddings; the multi-positive target build's time and memory, up to a 10M-pair training table.

Workload per batch size N: L2-normalised (N, 512) query and document embeddings (leaf tensors with
gradients), a learnable log logit scale. GCL uses the linear STW rescaled to batch mean 1 (the training
default). The batch holds N / 4 queries with 4 of their pairs each, drawn from a synthetic training table of
those queries with 50 products each (scores 100, 99, ...) out of 100 products per query, so a few products of
a batch also belong to other queries of the batch. The multi-positive loss builds its (N, N) target matrix
from the table (PairLookup) inside every call, as training does. The 10M-pair table: 100,000 queries x 100
products out of 5M (Marqo-GS-10M's shape).
"""

from __future__ import annotations

import resource

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from benchmarks.harness import Report, Target, fmt_bytes, fmt_time, interleaved, peak_rss_delta
from gcl_nb.data.pair_lookup import PairLookup
from gcl_nb.losses.gcl_loss import GCLLoss

DIM = 512
ROWS_PER_QUERY = 4
# the linear STW rescaled to batch mean 1, as training does by default
LOSS_OPTIONS = dict(stw="linear", rescale="mean")


def pair_table(n_queries: int, per_query: int, n_products: int, seed: int) -> pd.DataFrame:
    """A training table: each query with `per_query` random products (integer ids), score_linear 100, 99, ..."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "query": np.repeat(np.arange(n_queries), per_query),
            "product_id": rng.integers(0, n_products, n_queries * per_query),
            "score_linear": np.tile(np.arange(100.0, 100.0 - per_query, -1), n_queries),
        }
    )


def table_batch(table: pd.DataFrame, lookup: PairLookup, n: int, seed: int) -> dict:
    """n rows of a `pair_table`: ROWS_PER_QUERY rows each of n / ROWS_PER_QUERY random queries, in random order;
    {"score", "query_code", "doc_code"} as a collated training batch holds them."""
    rng = np.random.default_rng(seed)
    n_queries = int(table["query"].iloc[-1]) + 1
    per_query = len(table) // n_queries
    queries = rng.choice(n_queries, n // ROWS_PER_QUERY, replace=False)
    offsets = rng.random((len(queries), per_query)).argsort(axis=1)[:, :ROWS_PER_QUERY]
    batch = table.iloc[rng.permutation((queries[:, None] * per_query + offsets).reshape(-1))]
    return {
        "score": torch.tensor(batch["score_linear"].to_numpy(), dtype=torch.float32),
        "query_code": torch.as_tensor(lookup.queries.get_indexer(batch["query"])),
        "doc_code": torch.as_tensor(lookup.product_ids.get_indexer(batch["product_id"])),
    }


def _embeddings(n: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {
        "q": F.normalize(torch.randn(n, DIM, generator=gen), dim=1).requires_grad_(),
        "d": F.normalize(torch.randn(n, DIM, generator=gen), dim=1).requires_grad_(),
        "log_scale": torch.tensor(np.log(1 / 0.07), dtype=torch.float32, requires_grad=True),
    }


def _fwd_bwd(x: dict, loss_of):
    def call():
        for t in x.values():
            t.grad = None
        loss_of(x["q"], x["d"], x["log_scale"].exp()).backward()

    return call


def _page_faults(call) -> int:
    """Minor page faults of one call: each touches a fresh 4 KiB page (a fresh N x N tensor: N * N / 1024)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    call()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _multipos(lookup: PairLookup) -> GCLLoss:
    return GCLLoss(**LOSS_OPTIONS, target="multipos", lookup=lookup)


def run(report: Report, quick: bool) -> None:
    sizes, budget = ((32, 64), 0.2) if quick else ((256, 1024, 4096), 8.0)
    clip, gcl = ClipLoss(), GCLLoss(**LOSS_OPTIONS)
    for n in sizes:
        x = _embeddings(n, seed=n)
        n_queries = n // ROWS_PER_QUERY
        table = pair_table(n_queries, 50, 100 * n_queries, seed=n)
        lookup = PairLookup(table)
        batch = table_batch(table, lookup, n, seed=n)
        codes = (batch["query_code"], batch["doc_code"])
        multipos = _multipos(lookup)
        calls = {
            "clip": _fwd_bwd(x, lambda q, d, s: clip(d, q, s)),
            "gcl": _fwd_bwd(x, lambda q, d, s: gcl(q, d, s, batch["score"])),
            "multipos": _fwd_bwd(x, lambda q, d, s: multipos(q, d, s, batch["score"], *codes)),
            "build": lambda: multipos.target_matrix(*codes),
        }
        t = interleaved(
            calls,
            budget_s=budget,
            min_repeats=3 if quick else 7,
        )
        work = f"N={n}, d={DIM}, fwd+bwd, median of {t['gcl'].repeats}"
        clip_s = t["clip"].median
        report.row(
            "loss",
            "GCLLoss (diagonal) / ClipLoss time",
            work,
            f"{fmt_time(t['gcl'].median)} vs {fmt_time(clip_s)}",
            t["gcl"].median / clip_s,
            Target("<=", 1.05),
        )
        positives = float((multipos.target_matrix(*codes) > 0).sum(1).float().mean())
        faults = {name: _page_faults(calls[name]) for name in ("multipos", "clip")}
        report.row(
            "loss",
            "GCLLoss multi-positive (target build included) / ClipLoss time",
            work + f"; {len(lookup):,}-pair table, {positives:.1f} positives per row",
            f"{fmt_time(t['multipos'].median)} (build {fmt_time(t['build'].median)}) vs {fmt_time(clip_s)}; "
            f"page faults per call {faults['multipos']:,} vs {faults['clip']:,}",
            t["multipos"].median / clip_s,
            Target("<=", 1.10) if n >= 1024 else None,
        )
    _, peak = peak_rss_delta(lambda: multipos.target_matrix(*codes))  # at the largest N
    report.row(
        "loss",
        "multi-positive target build peak extra memory (RSS)",
        f"N={n}; {len(lookup):,}-pair table",
        f"{fmt_bytes(peak)} (one N x N float32 matrix: {fmt_bytes(n * n * 4)})",
    )
    _large_table(report, n, quick)
    report.note(
        "loss",
        "Candidates alternate round by round in one process. ClipLoss (world size 1) computes "
        "both logit matrices (two N x N products); gcl_loss computes one and uses its transpose. "
        "The multi-positive row includes the target build (PairLookup.entries on the batch codes, the "
        "batch rescaling, the scatter into T) in every call; `build` is that part alone. Page faults: minor "
        "faults of one call (getrusage); each is a fresh 4 KiB page, and N x N matrices above glibc's 32 MiB "
        "mmap threshold (N = 4096) are fresh on every call. Memory: resident-set high-water mark during the "
        "call minus the RSS before it.",
    )


def _large_table(report: Report, n: int, quick: bool) -> None:
    """Memory of a Marqo-GS-10M-sized training table: building the lookup, keeping it, a target build on it."""
    n_queries, per_query, n_products = (1_000, 100, 50_000) if quick else (100_000, 100, 5_000_000)
    table = pair_table(n_queries, per_query, n_products, seed=0)

    def build():
        lookup = PairLookup(table)
        return lookup, _multipos(lookup)

    (lookup, multipos), build_peak = peak_rss_delta(build)
    kept = lookup.nbytes + 4 * len(lookup)  # the table and its float32 STW weights
    batch = table_batch(table, lookup, n, seed=1)
    codes = (batch["query_code"], batch["doc_code"])
    _, peak = peak_rss_delta(lambda: multipos.target_matrix(*codes))
    t = interleaved({"build": lambda: multipos.target_matrix(*codes)}, budget_s=0.2 if quick else 3.0)
    report.row(
        "loss",
        "multi-positive training table: memory; target build on it",
        f"{len(table):,} pairs ({n_queries:,} queries x {per_query}, {n_products:,} products); N={n}",
        f"lookup + STW weights kept: {fmt_bytes(kept)} ({kept / len(table):.0f} B/pair); building them: "
        f"{fmt_bytes(build_peak)} peak extra; target build {fmt_time(t['build'].median)}, "
        f"{fmt_bytes(peak)} peak extra",
    )

"""Scaling: training time per epoch and evaluation time vs data size, extrapolated linearly to Marqo-GS.

Sizes: SynthShop `smoke`, `cpu` and `cpu` x4 (16,000 products, 1,600 queries); --quick: `smoke` and
`smoke` x2. The model is fixed, the `cpu` training preset (gcl-rn-tiny, 64 px, batch 128; `smoke` in --quick),
random init (speed does not depend on the weights), with random batches (`same_query="none"`: the smallest size
has fewer distinct queries than a batch; batch composition does not change the step's cost). Per size, on the
in_domain split:
- train epoch = rows / pairs/s, with pairs/s the median per-step rate of gcl_nb.training.loop.train() over a few
  steps (data loading of a first epoch included: images decoded as they enter the cache);
- evaluation (gcl_nb.evaluation.split_evaluation.evaluate_split, top_q 2000, top_k 1000) = encoding every product of the
  corpus half (encode_corpus) + the rest (query sampling and encoding, exact search, metrics), timed apart.
Each part is fitted by least squares on its cost driver (rows; products; queries x products) and evaluated
at the full Marqo-GS: in_domain 3.93M rows, a corpus half of ~2.5M products, 2,000 test queries.
"""

from __future__ import annotations

import tempfile

from benchmarks.harness import Report, fmt_time, interleaved, least_squares_line, synthshop
from gcl_nb.data import load_gs
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.embedding_cache import EmbeddingCache, encode_corpus
from gcl_nb.evaluation.split_evaluation import evaluate_split
from gcl_nb.models import build_encoder
from gcl_nb.training import TrainConfig, train
from gcl_nb.training.run_dir import read_summary
from gcl_nb.workbench.presets import train_config

SPLIT = "in_domain"
FULL = {"rows": 3.93e6, "products": 2.5e6, "queries": 2000}
TOP_Q = 2000


def _sizes(quick: bool) -> list[tuple[str, str, dict]]:
    """(label, SynthShop preset, overrides) per size."""
    if quick:
        return [("smoke", "smoke", {}), ("smoke x2", "smoke", {"n_products": 800, "n_queries": 128})]
    return [("smoke", "smoke", {}), ("cpu", "cpu", {}), ("cpu x4", "cpu", {"n_products": 16_000, "n_queries": 1_600})]


def _train_pairs_per_s(config: TrainConfig) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as out:
        run_dir = train(TrainConfig(**{**config.__dict__, "out": out}))
        return read_summary(run_dir)["pairs_per_s"]


def run(report: Report, quick: bool) -> None:
    preset, steps = ("smoke", 6) if quick else ("cpu", 20)
    points = []
    for label, data_preset, overrides in _sizes(quick):
        root = synthshop(data_preset, **overrides)
        data = load_gs(root)
        rows, corpus = len(data.split(SPLIT)), data.corpus_for(SPLIT)
        config = train_config(preset, data=str(root), steps=steps, warmup=1, same_query="none", progress=False)
        pairs_per_s = _train_pairs_per_s(config)
        encoder = build_encoder(config.encoder_config())
        memo = EmbeddingCache(encoder)
        memo.documents(corpus)
        protocol = EvalConfig(top_q=TOP_Q)
        t = interleaved(
            {
                "encode": lambda: encode_corpus(encoder, corpus),
                "rest": lambda: evaluate_split(encoder, data, SPLIT, protocol, doc_embeddings=memo),
            },
            budget_s=0.5 if quick else 10.0,
            warmup=0,
        )
        n_queries = evaluate_split(encoder, data, SPLIT, protocol, doc_embeddings=memo).per_query.shape[0]
        point = {
            "rows": rows,
            "products": len(corpus.products),
            "queries": n_queries,
            "epoch": rows / pairs_per_s,
            "encode": t["encode"].median,
            "rest": t["rest"].median,
        }
        points.append(point)
        report.row(
            "scaling",
            f"{label}: train epoch; evaluation (encode corpus + search, metrics)",
            f"{rows:,} rows, {point['products']:,} products, {n_queries:,} eval queries; "
            f"{steps} train steps, eval median of {t['encode'].repeats}",
            f"epoch {fmt_time(point['epoch'])} ({pairs_per_s:.0f} pairs/s); eval "
            f"{fmt_time(point['encode'] + point['rest'])} ({fmt_time(point['encode'])} + "
            f"{fmt_time(point['rest'])})",
        )

    def extrapolate(key: str, driver) -> float:
        intercept, slope = least_squares_line([driver(p) for p in points], [p[key] for p in points])
        return intercept + slope * driver(FULL)

    epoch = extrapolate("epoch", lambda p: p["rows"])
    encode = extrapolate("encode", lambda p: p["products"])
    rest = extrapolate("rest", lambda p: p["queries"] * p["products"])
    report.row(
        "scaling",
        "linear extrapolation to Marqo-GS-10M (same model, this machine)",
        "in_domain 3.93M rows; corpus half ~2.5M products, 2,000 queries",
        f"epoch {fmt_time(epoch)}; eval {fmt_time(encode + rest)} "
        f"({fmt_time(encode)} encode + {fmt_time(rest)} search, metrics)",
    )
    report.note(
        "scaling",
        "Training per epoch is linear in rows by construction (fixed model and batch; the rate "
        "is measured per size to show it stays flat). Evaluation parts are fitted on their own cost "
        "driver: products for corpus encoding, queries x products for the search. The model is the "
        f"tiny `{preset}` preset on CPU; ViT-B-32 at 224 px costs far more per pair (see the gpu group).",
    )

"""GPU (only with CUDA): ViT-B-32 training throughput with GCL (diagonal and multi-positive targets) vs
ClipLoss, bf16 autocast as gcl_nb.training.loop; and gradient caching (`micro_batch`): batch 4096 in chunks of
512 against batch 512 whole, pairs/s and peak allocated memory (batch 4096 whole beside them, or its out of
memory).

Workload: the `gpu` training preset's model (ViT-B-32 image and text towers at 224 px, RHS image + title) and
batch size (512; 32 in --quick), one fixed batch of random images and tokenised random texts already on the
GPU (data loading excluded; scores and codes stay on the CPU, as the loader gives them), the full training
step gcl_nb.training.loop.train_step, TF32 matmuls allowed. The batch's rows and the multi-positive targets come from
the synthetic training table of the loss group (4 rows per query, 50 products per query).
"""

from __future__ import annotations

import torch

from benchmarks.harness import Report, Target, fmt_bytes, fmt_time, interleaved
from benchmarks.loss import pair_table, table_batch
from benchmarks.train_step import make_losses, make_step, micro_batch_comparison, micro_batch_rows
from gcl_nb.data.pair_lookup import PairLookup
from gcl_nb.models import build_encoder
from gcl_nb.training import make_optimizer
from gcl_nb.workbench.presets import train_config


def _batch(encoder, table_rows: dict, image_size: int, device) -> dict:
    n = len(table_rows["score"])
    gen = torch.Generator().manual_seed(0)
    words = ["red", "shirt", "cotton", "blue", "shoe", "leather", "lamp", "oak", "mug", "large"]
    texts = [" ".join(words[i] for i in torch.randint(len(words), (5,), generator=gen).tolist()) for _ in range(n)]
    inputs = {
        "query": encoder.tokenize(texts),
        "fields": {
            "image": torch.randn(n, 3, image_size, image_size, generator=gen),
            "title": encoder.tokenize(texts[::-1]),
        },
        "field_mask": torch.ones(n, 2, dtype=torch.bool),
    }
    on_device = {
        k: ({f: t.to(device) for f, t in v.items()} if isinstance(v, dict) else v.to(device)) for k, v in inputs.items()
    }
    return {**on_device, **table_rows}


def run(report: Report, quick: bool) -> None:
    if not torch.cuda.is_available():
        report.row(
            "gpu", "ViT-B-32 GCL training throughput", "-", "skipped (no CUDA; a GPU run: benchmarks/results_gpu.md)"
        )
        return
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    config = train_config("gpu", **({"batch_size": 32} if quick else {}))
    encoder = build_encoder(config.encoder_config(), device=device)
    encoder.train()
    optimizer = make_optimizer(encoder, config)
    n_queries = config.batch_size  # the batch: 4 rows each of a quarter of the queries
    table = pair_table(n_queries, 50, 100 * n_queries, seed=0)
    lookup = PairLookup(table)
    batch = _batch(encoder, table_batch(table, lookup, config.batch_size, seed=0), config.image_size, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16)
    steps = {
        name: make_step(encoder, optimizer, loss, batch, config, autocast)
        for name, loss in make_losses(config, table).items()
    }
    torch.cuda.reset_peak_memory_stats()
    t = interleaved(steps, budget_s=1.0 if quick else 30.0, warmup=3)
    gcl, multipos, clip = t["gcl"].median, t["multipos"].median, t["clip"].median
    work = (
        f"{torch.cuda.get_device_name(0)}, {config.arch} {config.image_size} px, bf16 autocast, batch "
        f"{config.batch_size}, median of {t['gcl'].repeats}"
    )
    report.row(
        "gpu",
        "ViT-B-32 training throughput GCL / ClipLoss",
        work,
        f"{config.batch_size / gcl:.0f} vs {config.batch_size / clip:.0f} pairs/s "
        f"({fmt_time(gcl)} vs {fmt_time(clip)} per step); peak "
        f"{fmt_bytes(torch.cuda.max_memory_allocated())} allocated",
        clip / gcl,
        Target(">=", 0.98),
    )
    report.row(
        "gpu",
        "ViT-B-32 training throughput GCL multi-positive / GCL diagonal",
        work,
        f"{config.batch_size / multipos:.0f} vs {config.batch_size / gcl:.0f} pairs/s "
        f"({fmt_time(multipos)} vs {fmt_time(gcl)} per step)",
        gcl / multipos,
        Target(">=", 0.95),
    )
    large, small = (64, 16) if quick else (4096, config.batch_size)
    table = pair_table(large, 50, 100 * large, seed=1)  # enough queries for a batch of `large` rows
    lookup = PairLookup(table)
    batches = {
        n: _batch(encoder, table_batch(table, lookup, n, seed=1), config.image_size, device) for n in (large, small)
    }
    measured = micro_batch_comparison(
        encoder,
        optimizer,
        make_losses(config, table)["gcl"],
        batches,
        config,
        autocast,
        3.0 if quick else 60.0,
    )
    work = (
        f"{torch.cuda.get_device_name(0)}, {config.arch} {config.image_size} px, bf16 autocast: batch {large} in "
        f"chunks of {small} vs batch {small}"
    )
    micro_batch_rows(report, "gpu", work, *measured)
    report.note(
        "gpu",
        "Throughput ratio = the other step's time / this step's time (GCL vs ClipLoss: the same "
        "2% as the CPU step). Steps synchronise CUDA before the clock stops.",
    )

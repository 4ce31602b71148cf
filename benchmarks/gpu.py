"""GPU (only with CUDA): ViT-B-32 training throughput with GCL vs ClipLoss, bf16 autocast as gcl_nb.train.

Workload: the `gpu` training preset's model (ViT-B-32 image and text towers at 224 px, RHS image + title) and
batch size (512; 32 in --quick), one fixed batch of random images and tokenised random texts already on the
GPU (data loading excluded), the full training step of benchmarks.train_step, TF32 matmuls allowed.
"""
from __future__ import annotations

import torch

from benchmarks.harness import Report, Target, fmt_bytes, fmt_time, interleaved
from benchmarks.train_step import make_losses, make_step
from gcl_nb.models import build_encoder
from gcl_nb.train import TrainConfig, make_optimizer


def _batch(encoder, n: int, image_size: int, device) -> dict:
    gen = torch.Generator().manual_seed(0)
    words = ["red", "shirt", "cotton", "blue", "shoe", "leather", "lamp", "oak", "mug", "large"]
    texts = [" ".join(words[i] for i in torch.randint(len(words), (5,), generator=gen).tolist()) for _ in range(n)]
    batch = {"query": encoder.tokenize(texts),
             "fields": {"image": torch.randn(n, 3, image_size, image_size, generator=gen),
                        "title": encoder.tokenize(texts[::-1])},
             "field_mask": torch.ones(n, 2, dtype=torch.bool),
             "score": torch.randint(1, 101, (n,), generator=gen).float(),
             "query_code": torch.arange(n), "doc_code": torch.arange(n)}
    return {k: ({f: t.to(device) for f, t in v.items()} if isinstance(v, dict) else v.to(device))
            for k, v in batch.items()}


def run(report: Report, quick: bool) -> None:
    if not torch.cuda.is_available():
        report.row("gpu", "ViT-B-32 GCL training throughput", "-",
                   "skipped (no CUDA; a GPU run: benchmarks/results_gpu.md)")
        return
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    config = TrainConfig.from_preset("gpu", **({"batch_size": 32} if quick else {}))
    encoder = build_encoder(config.encoder_config(), device=device)
    encoder.train()
    optimizer = make_optimizer(encoder, config)
    batch = _batch(encoder, config.batch_size, config.image_size, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16)
    steps = {name: make_step(encoder, optimizer, loss, batch, config, autocast)
             for name, loss in make_losses(config).items()}
    torch.cuda.reset_peak_memory_stats()
    t = interleaved(steps, budget_s=1.0 if quick else 30.0, warmup=3)
    gcl, clip = t["gcl"].median, t["clip"].median
    work = (f"{torch.cuda.get_device_name(0)}, {config.arch} {config.image_size} px, bf16 autocast, batch "
            f"{config.batch_size}, median of {t['gcl'].repeats}")
    report.row("gpu", "ViT-B-32 training throughput GCL / ClipLoss", work,
               f"{config.batch_size / gcl:.0f} vs {config.batch_size / clip:.0f} pairs/s "
               f"({fmt_time(gcl)} vs {fmt_time(clip)} per step); peak "
               f"{fmt_bytes(torch.cuda.max_memory_allocated())} allocated", clip / gcl, Target(">=", 0.98))
    report.note("gpu", "Throughput ratio = ClipLoss step time / GCL step time (target: the same 2% as the CPU "
                "step). Steps synchronise CUDA before the clock stops.")

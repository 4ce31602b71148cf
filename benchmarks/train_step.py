"""Training step: the full step of gcl_nb.train (forward, loss, backward, gradient clipping, AdamW, logit-scale
clamp) with GCLLoss vs with open_clip's ClipLoss, on the same model and the same collated batch.

Workload: the `cpu` training preset (gcl-tiny towers, 64 px images, batch 64; `smoke` in --quick) on a batch
of the SynthShop data set of the same preset. Data loading is not in the step (the data group measures it).
"""
from __future__ import annotations

from contextlib import nullcontext
from functools import partial

import torch
from open_clip.loss import ClipLoss

from benchmarks.harness import Report, Target, fmt_time, interleaved, synthshop
from gcl_nb.data import load_gs
from gcl_nb.data.torch_data import PairDataset, collate_pairs
from gcl_nb.loss import GCLLoss
from gcl_nb.models import build_encoder
from gcl_nb.train import LOGIT_SCALE_MAX, TrainConfig, make_optimizer


def make_losses(config: TrainConfig) -> dict:
    """{"gcl": ..., "clip": ...}: callables (q, d, scale, batch) -> loss, GCL configured as in gcl_nb.train."""
    gcl = GCLLoss(config.stw, stw_options={"rescale": config.stw_rescale}, symmetric=config.symmetric,
                  normalize=config.normalize)
    clip = ClipLoss()
    return {"gcl": lambda q, d, scale, batch: gcl(q, d, scale, batch["score"], batch["query_code"],
                                                  batch["doc_code"]),
            "clip": lambda q, d, scale, batch: clip(d, q, scale)}


def make_step(encoder, optimizer, loss_fn, batch: dict, config: TrainConfig, autocast=None):
    """A zero-argument callable doing one training step on `batch` (already on the encoder's device),
    as the loop of gcl_nb.train does; it synchronises CUDA before returning."""
    def step():
        with autocast or nullcontext():
            q, d, scale = encoder({"query": batch["query"]}, batch["fields"], batch["field_mask"])
        loss = loss_fn(q, d, scale, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), config.grad_clip)
        optimizer.step()
        with torch.no_grad():
            encoder.logit_scale.clamp_(0.0, LOGIT_SCALE_MAX)
        if encoder.device.type == "cuda":
            torch.cuda.synchronize()
    return step


def to_device(batch: dict, device) -> dict:
    return {k: ({n: t.to(device) for n, t in v.items()} if isinstance(v, dict) else v.to(device))
            for k, v in batch.items()}


def preset_name(quick: bool) -> str:
    return "smoke" if quick else "cpu"


def cpu_setup(quick: bool) -> tuple:
    """(config, encoder, optimizer, dataset, collate) of the preset on its SynthShop data."""
    name = preset_name(quick)
    config = TrainConfig.from_preset(name, data=str(synthshop(name)))
    data = load_gs(config.data)
    encoder = build_encoder(config.encoder_config())
    rhs_fields = [(f.name, f.kind) for f in config.encoder_config().rhs]
    dataset = PairDataset(data.split(config.split), data.corpus_for(config.split), rhs_fields=rhs_fields,
                          preprocess=encoder.transform_train, score_column=config.score_column)
    collate = partial(collate_pairs, tokenize=encoder.tokenize)
    return config, encoder, make_optimizer(encoder, config), dataset, collate


def cpu_step_time(setup: tuple, budget_s: float) -> dict:
    """Step times {"gcl": Timing, "clip": Timing} of a `cpu_setup` (on its first batch of rows)."""
    config, encoder, optimizer, dataset, collate = setup
    batch = collate([dataset[i] for i in range(config.batch_size)])
    encoder.train()
    losses = make_losses(config)
    steps = {name: make_step(encoder, optimizer, loss, batch, config) for name, loss in losses.items()}
    return interleaved(steps, budget_s=budget_s, warmup=2)


def run(report: Report, quick: bool) -> None:
    setup = cpu_setup(quick)
    config, t = setup[0], cpu_step_time(setup, budget_s=1.0 if quick else 20.0)
    gcl, clip = t["gcl"].median, t["clip"].median
    work = (f"`{preset_name(quick)}` preset: {config.arch}, {config.image_size} px, batch {config.batch_size}, "
            f"median of {t['gcl'].repeats}")
    report.row("train_step", "step time GCL / ClipLoss", work, f"{fmt_time(gcl)} vs {fmt_time(clip)}", gcl / clip,
               Target("<=", 1.02))
    report.row("train_step", "GCL training throughput", work, f"{config.batch_size / gcl:.0f} pairs/s")
    report.note("train_step", "Step = forward, loss, backward, clip_grad_norm_, AdamW, logit-scale clamp, as in "
                "gcl_nb.train; both losses alternate on one model and one collated batch, so only the loss differs.")

"""Data: images/s of the training data pipeline (PairDataset + collate_pairs through a DataLoader, as
gcl_nb.training.loop runs it with the `cpu` preset: main process, num_workers=0) with the decoded-image cache
(ImageCache("uint8"), the default: decode once, augment every epoch) vs decoding every epoch; and the loader's
time per batch against a training step of the same preset.

Workload: the same fixed batches of the preset's training split each round; the cache is filled by one
untimed pass first, i.e. the cached numbers are those of every epoch after the first.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from benchmarks.harness import Report, Target, fmt_time, interleaved
from benchmarks.train_step import cpu_setup, cpu_step_time, preset_name
from gcl_nb.data.datasets import PairDataset
from gcl_nb.data.image_cache import ImageCache

N_BATCHES, N_BATCHES_QUICK = 20, 3


def _loader_pass(dataset, batches, collate):
    def call():
        for _ in DataLoader(dataset, batch_sampler=batches, collate_fn=collate, num_workers=0):
            pass

    return call


def run(report: Report, quick: bool) -> None:
    setup = cpu_setup(quick)
    config, encoder, _, cached, collate = setup  # training's dataset: decoded images cached (the default)
    assert isinstance(cached.reader.cache, ImageCache), "the cpu preset trains with the image cache"
    plain = PairDataset(
        cached.pairs,
        cached.reader.corpus,
        rhs_fields=cached.reader.fields,
        preprocess=encoder.transform_train,
        score_column=config.score_column,
        image_cache=None,
    )
    n_batches = N_BATCHES_QUICK if quick else N_BATCHES
    order = torch.randperm(len(plain), generator=torch.Generator().manual_seed(0)).tolist()
    batches = [order[i * config.batch_size : (i + 1) * config.batch_size] for i in range(n_batches)]
    _loader_pass(cached, batches, collate)()  # fill the cache: the first epoch
    t = interleaved(
        {"cached": _loader_pass(cached, batches, collate), "decode": _loader_pass(plain, batches, collate)},
        budget_s=0.5 if quick else 20.0,
    )
    n_images = n_batches * config.batch_size
    work = (
        f"`{preset_name(quick)}` SynthShop, {config.image_size} px, {n_batches} batches of "
        f"{config.batch_size}, median of {t['cached'].repeats}"
    )
    cached_s, decode_s = t["cached"].median, t["decode"].median
    report.row(
        "data",
        "loader images/s: cache / decode every epoch",
        work,
        f"{n_images / cached_s:.0f} vs {n_images / decode_s:.0f} images/s",
        decode_s / cached_s,
    )

    steps = cpu_step_time(setup, budget_s=0.5 if quick else 10.0)
    per_batch, step_s = cached_s / n_batches, steps["gcl"].median
    report.row(
        "data",
        "loader time per batch (cached) / GCL train step",
        work + f"; step median of {steps['gcl'].repeats}",
        f"{fmt_time(per_batch)} vs {fmt_time(step_s)}",
        per_batch / step_s,
        Target("<", 1.0),
    )
    report.note(
        "data",
        "The loader runs in the training process (num_workers=0, as the cpu preset), so its "
        "time adds to the step's; a ratio below 1 means the model step, not the data, dominates. "
        "Decoding reads JPEGs from the OS page cache (warm after the first pass).",
    )

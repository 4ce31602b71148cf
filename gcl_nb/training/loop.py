"""Train a multi-field encoder with the GCL loss (or CLIP's, with stw="constant"). Read top to bottom: the pieces
(learning rate, optimiser, batches, one step, the loss, build_training), then `train` and its three stages,
`start_run` -> `run_steps` -> `finish_run`.

    run_dir = train(TrainConfig(data="data/synthshop-cpu", stw="linear", out="runs/gcl"))
    gcl-nb train --data data/synthshop-cpu --preset cpu --stw linear --out runs/gcl [--steps 100 ...]

The run directory holds `checkpoint.pt` (open_clip state_dict) + `config.json` ({"encoder": ..., "train": ...,
"start": where the starting weights came from, gcl_nb.models.sources.describe_start}),
`train_state.pt` (optimiser, RNG, step: for resume=True; a resumed run keeps the saved training settings, only
`steps` may grow: gcl_nb.training.run_dir.resume_changes), `history.jsonl` (one line per step: step, loss, lr,
logit_scale, pairs_per_s, epoch) and `summary.json`. AdamW, linear warmup + cosine decay, gradient clipping,
bf16 autocast on CUDA (fp32 on CPU). Each sample's augmentation is drawn from (seed, step, row).
Under torchrun every rank sees the global batch of negatives (GCLLoss gathers embeddings), each rank encodes its
contiguous slice of every global batch, and BatchNorm uses the global batch's statistics
(gcl_nb.training.sync_batch_norm): N processes train the model one process trains, up to float rounding.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from gcl_nb.data.atomic_files import atomic_torch_save
from gcl_nb.data.batch_sampler import UniqueQueryBatchSampler
from gcl_nb.data.datasets import PairDataset, collate_pairs
from gcl_nb.data.image_cache import ImageCache
from gcl_nb.data.pair_lookup import PairLookup
from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.losses.gcl_loss import GCLLoss
from gcl_nb.losses.weights import STW_PRESETS, get_stw
from gcl_nb.models import build_encoder
from gcl_nb.models.checkpoint import CHECKPOINT_NAME, SUMMARY_NAME, read_config, save_checkpoint
from gcl_nb.models.factory import resolve_device
from gcl_nb.models.sources import describe_start
from gcl_nb.training.config import TrainConfig
from gcl_nb.training.field_dropout import FieldDropout
from gcl_nb.training.run_dir import HISTORY_NAME, STATE_NAME, resume_changes, start_history, write_summary
from gcl_nb.training.sync_batch_norm import synchronise_batch_norm

LOGIT_SCALE_MAX = math.log(100.0)  # CLIP's clamp of the learnable logit scale t = exp(logit_scale) <= 100


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warmup to config.lr over `warmup` steps, then cosine decay to 0 at `steps`."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress)) * config.lr


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; as open_clip, no weight decay on 1-d parameters (gains, biases) and the logit scale. The fused
    kernel (one pass over all parameters) makes the step ~5x faster on CPU than the per-tensor loop."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "logit_scale" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6, fused=True)


def epoch_batches(dataset, config: TrainConfig, epoch: int) -> list[list[int]]:
    """The global batches (row indices) of one epoch: a seeded shuffle, or distinct-query batches."""
    if config.same_query == "sampler":
        sampler = UniqueQueryBatchSampler(dataset.query_codes, config.batch_size, seed=config.seed, drop_last=True)
        sampler.set_epoch(epoch)
        return list(sampler)
    seed = config.seed * 100_003 + epoch
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    n_full = len(order) // config.batch_size
    return [order[i * config.batch_size : (i + 1) * config.batch_size] for i in range(n_full)]


def _unfilled_batch(dataset, config: TrainConfig) -> str:
    """Why the training data cannot fill one batch of config.batch_size, and what to do."""
    if config.same_query == "sampler":
        n_queries = len(np.unique(dataset.query_codes))
        return (
            f"batch_size={config.batch_size}: {n_queries} distinct training queries cannot fill one batch of "
            f"{config.batch_size} distinct queries (same_query='sampler'); lower batch_size or use "
            "same_query='none'"
        )
    return (
        f"batch_size={config.batch_size}: {len(dataset)} training pairs cannot fill one batch of "
        f"{config.batch_size}; lower batch_size"
    )


def batch_stream(dataset, collate, config: TrainConfig, start_step: int, rank: int, world: int):
    """Yield (epoch, batch) from step `start_step` on, forever; rank takes its slice of each global batch."""
    per_rank = config.batch_size // world
    step, epoch = 0, 0
    while True:
        batches = epoch_batches(dataset, config, epoch)
        if step + len(batches) > start_step:
            first = max(0, start_step - step)  # (global step, row): per-sample augmentation, see PairDataset
            mine = [
                [(step + first + j, row) for row in b[rank * per_rank : (rank + 1) * per_rank]]
                for j, b in enumerate(batches[first:])
            ]
            loader = DataLoader(
                dataset,
                batch_sampler=mine,
                collate_fn=collate,
                num_workers=config.num_workers,
                pin_memory=torch.cuda.is_available(),  # own generator: leaves the global RNG be
                generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch),
            )
            for batch in loader:
                yield epoch, batch
        step += len(batches)
        epoch += 1


def train_step(
    model: torch.nn.Module,
    loss_fn: GCLLoss,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    grad_clip: float,
    autocast=nullcontext(),
    micro_batch: Optional[int] = None,
) -> torch.Tensor:
    """One optimiser step on a collated batch: encode (under `autocast`), GCL loss of the (global) batch,
    backward, gradient clipping (0: off), optimiser step, logit-scale clamp. With `micro_batch` below the batch,
    the gradient is cached (`gradient_cached_backward`): memory of one chunk, the whole batch's gradient. Returns
    the detached loss; a non-finite loss raises FloatingPointError before the weights change."""
    encoder = getattr(model, "module", model)  # under DistributedDataParallel
    device = encoder.logit_scale.device
    inputs = (
        {"query": batch["query"].to(device)},
        {k: v.to(device) for k, v in batch["fields"].items()},
        batch["field_mask"].to(device),
    )
    targets = (batch["score"], batch["query_code"], batch["doc_code"])
    optimizer.zero_grad(set_to_none=True)
    if micro_batch is not None and micro_batch < len(batch["score"]):
        loss = gradient_cached_backward(model, loss_fn, inputs, targets, micro_batch, autocast)
    else:
        with autocast:
            q, d, scale = model(*inputs)
        loss = _finite(loss_fn(q, d, scale, *targets))
        loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), grad_clip)
    optimizer.step()
    with torch.no_grad():
        encoder.logit_scale.clamp_(0.0, LOGIT_SCALE_MAX)
    return loss.detach()


def _finite(loss: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {loss.item()}")
    return loss


def gradient_cached_backward(model, loss_fn, inputs: tuple, targets: tuple, micro_batch: int, autocast) -> torch.Tensor:
    """The batch's gradient with one chunk of at most `micro_batch` rows in memory at a time (balanced chunks of 2
    rows or more; GradCache, Gao et al. 2021, arXiv 2101.06983), for any target and weighting of the GCL loss;
    returns the loss.

    1. Encode every chunk without gradients and join the embeddings (BatchNorm's running statistics are restored
       after this pass, so each chunk updates them once, in step 3).
    2. The loss of the whole (under torchrun: global) batch on those embeddings, and its gradient with respect to
       each embedding and to the logit scale.
    3. Encode each chunk again with gradients and back-propagate its rows' cached embedding gradients (the
       logit scale's with the last chunk); parameter gradients add up over the chunks. DDP synchronises once,
       in the last chunk's backward. Embedding tables add up sparse gradients (`_sparse_while_chunked`).
    Augmentation happened in the data loader, so both passes see the same tensors; each chunk's second pass
    replays the random state of its first, so dropout (e.g. in the MiniLM text tower) draws the same masks, and
    the random state afterwards is the first pass's. Towers without BatchNorm get
    the whole batch's gradient up to float rounding; BatchNorm normalises each chunk with its own statistics (as
    each process's share does in multi-process training without synchronised BatchNorm).
    """
    lhs, rhs, mask = inputs
    n = len(mask)
    n_chunks = max(1, min(math.ceil(n / micro_batch), n // 2))  # balanced, at least 2 rows each (BatchNorm)
    bounds = [round(i * n / n_chunks) for i in range(n_chunks + 1)]
    chunks = [slice(a, b) for a, b in zip(bounds, bounds[1:])]

    def encode(rows: slice):
        return model({k: v[rows] for k, v in lhs.items()}, {k: v[rows] for k, v in rhs.items()}, mask[rows])

    encoder = getattr(model, "module", model)
    running = {
        name: b.clone() for name, b in encoder.named_buffers() if "running_" in name or "batches_tracked" in name
    }
    rng_states, encoded = [], []
    with torch.no_grad(), autocast:
        for rows in chunks:
            rng_states.append(_rng_state())
            encoded.append(encode(rows))
    rng_after = _rng_state()
    with torch.no_grad():
        for name, b in encoder.named_buffers():
            if name in running:
                b.copy_(running[name])
    q = torch.cat([e[0] for e in encoded]).requires_grad_()
    d = torch.cat([e[1] for e in encoded]).requires_grad_()
    scale = encoded[0][2].detach().requires_grad_()
    del encoded
    loss = _finite(loss_fn(q, d, scale, *targets))
    loss.backward()
    tables = _sparse_while_chunked(model)
    try:
        for i, rows in enumerate(chunks):
            last = i == len(chunks) - 1
            with nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync():
                _set_rng_state(rng_states[i])  # the same dropout masks as in the first pass
                with autocast:
                    q_rows, d_rows, scale_again = encode(rows)
                outputs, grads = [q_rows, d_rows], [q.grad[rows], d.grad[rows]]
                if last:
                    outputs.append(scale_again)
                    grads.append(scale.grad)
                torch.autograd.backward(outputs, grads)
            for table in tables:
                if table.weight.grad is not None and table.weight.grad.is_sparse:
                    table.weight.grad = table.weight.grad.coalesce()  # one row per token used so far
    finally:
        _set_rng_state(rng_after)
        for table in tables:
            table.sparse = False
            if table.weight.grad is not None and table.weight.grad.is_sparse:
                table.weight.grad = table.weight.grad.to_dense()
    return loss


def _sparse_while_chunked(model) -> list[torch.nn.Embedding]:
    """The model's embedding tables (e.g. the 49408-row token table), switched to sparse gradients: over the chunks
    each table's gradient holds only the rows the batch used, where a dense one would keep a full-size gradient
    plus a full-size temporary per chunk. Not under DistributedDataParallel, whose reducer fixes each gradient's
    layout when it is built."""
    if hasattr(model, "no_sync"):
        return []
    tables = [
        m for m in model.modules() if isinstance(m, torch.nn.Embedding) and not m.sparse and m.weight.requires_grad
    ]
    for table in tables:
        table.sparse = True
    return tables


def _setup_distributed(config: TrainConfig) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(config.device)
    if world == 1:
        return 0, 1, device
    if config.batch_size % world:
        raise SettingError(
            f"batch_size={config.batch_size}: the global batch must split evenly over the {world} "
            f"processes; use a multiple of {world}"
        )
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world, device


def _load_saved(path: Path, needed: str):
    """torch.load(weights_only) of a file the run directory should hold; DataError naming it when it is missing
    or unreadable."""
    if not path.is_file():
        raise DataError(f"{path} does not exist: {needed}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, foreign pickles
        raise DataError(
            f"{path} is not readable ({type(err).__name__}: {str(err)[:200]}); start a fresh run in "
            "another out directory"
        ) from None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainingSetup:
    """What a training step needs, built from a TrainConfig (`build_training`)."""

    encoder: torch.nn.Module
    dataset: PairDataset
    collate: Callable[[list], dict]
    loss_fn: GCLLoss
    optimizer: torch.optim.Optimizer
    field_dropout: FieldDropout
    pairs: pd.DataFrame


def make_loss(config: TrainConfig, pairs: pd.DataFrame) -> GCLLoss:
    """The GCL loss of `config` over the training table `pairs` (the table is the multi-positive lookup). A named
    STW's parameters default to its training defaults on these scores (STWPreset.training_defaults, e.g.
    reciprocal's top), then to its own; the STW is tried on every training score first, so a weight it cannot give
    is a SettingError before any step."""
    scores = torch.tensor(pd.to_numeric(pairs[config.score_column]).to_numpy(dtype=np.float64))
    params = dict(config.stw_params)
    if not callable(config.stw):
        params = {**STW_PRESETS[config.stw].training_defaults(scores), **params}
    try:
        get_stw(config.stw, **params)(scores)
    except ValueError as err:
        raise SettingError(
            f"stw={config.stw!r} with stw_params={params} on the scores of {config.score_column!r}: {err}"
        ) from None
    return GCLLoss(
        config.stw,
        stw_params=params,
        rescale=config.stw_rescale,
        w_min=config.stw_w_min,
        target=config.target,
        lookup=PairLookup(pairs, config.score_column) if config.target == "multipos" else None,
        symmetric=config.symmetric,
        normalize=config.normalize,
        same_query="mask" if config.same_query == "mask" else "none",
    )


def build_training(config: TrainConfig, device: torch.device | None = None, world: int = 1) -> TrainingSetup:
    """The training split's dataset, the encoder (BatchNorm over the global batch when `world` > 1), the loss,
    the optimiser and the field dropout of `config`: what `train` runs and the step benchmark times."""
    encoder_config = config.encoder_config()
    data = config.data_options.load(config.data, splits=[config.split], corpus="split")  # only its own rows
    pairs = data.split(config.split)
    if pairs.empty:
        raise DataError(f"training split {config.split!r} of {config.data} has no rows: nothing to train on")
    encoder = build_encoder(encoder_config, device=device, cache_dir=config.model_cache_dir)
    if world > 1:  # BatchNorm over the global batch, as in one process
        synchronise_batch_norm(encoder, device)
    rhs_fields = [(f.name, f.kind) for f in encoder_config.rhs]
    dataset = PairDataset(
        pairs,
        data.corpus_for(config.split),
        rhs_fields=rhs_fields,
        preprocess=encoder.transform_train,
        score_column=config.score_column,
        image_cache=ImageCache("uint8") if config.image_cache else None,
        augment_seed=config.seed,
    )
    if not epoch_batches(dataset, config, 0):
        raise SettingError(_unfilled_batch(dataset, config))
    return TrainingSetup(
        encoder=encoder,
        dataset=dataset,
        collate=partial(collate_pairs, tokenize=encoder.tokenize),
        loss_fn=make_loss(config, pairs),
        optimizer=make_optimizer(encoder, config),
        field_dropout=FieldDropout(
            config.field_dropout, [f.name for f in encoder_config.rhs], encoder_config.rhs_weights, config.seed
        ),
        pairs=pairs,
    )


def train(config: TrainConfig, callback: Optional[Callable[[dict, torch.nn.Module], None]] = None) -> Path:
    """Run training and return the run directory: set up, the loop, finish.

    `callback(record, encoder)` runs after every step with the step's history record (e.g. for live plots).
    """
    run = start_run(config)
    started = time.perf_counter()
    run_steps(run, callback)
    finish_run(run, started)
    return run.run_dir


@dataclass
class TrainingRun:
    """A run under way: what `start_run` set up, `run_steps` advances and `finish_run` closes."""

    config: TrainConfig
    setup: TrainingSetup
    model: torch.nn.Module  # the encoder, wrapped in DistributedDataParallel under torchrun
    device: torch.device
    rank: int
    world: int
    autocast: object  # bf16 autocast on CUDA, a no-op context on CPU
    start_step: int
    resumes: list[dict]  # config.json's record of every resume
    start_record: Optional[dict]  # where the starting weights came from (name, file hash, hub revision)
    last_saved: Optional[int] = field(init=False)  # the step of the last checkpoint written (None: none yet)

    def __post_init__(self):
        self.last_saved = self.start_step if self.config.resume else None

    @property
    def run_dir(self) -> Path:
        return Path(self.config.out)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def save(self, step: int) -> None:
        """The checkpoint and the resume state at `step` (by the first process only)."""
        if self.is_main:
            extra = {"train": self.config.to_dict(), "start": self.start_record, "step": step}
            extra.update({"resumes": self.resumes} if self.resumes else {})
            save_checkpoint(self.setup.encoder, self.run_dir / CHECKPOINT_NAME, extra=extra)
            state = {"step": step, "optimizer": self.setup.optimizer.state_dict(), "rng": _rng_state()}
            atomic_torch_save(state, self.run_dir / STATE_NAME)


def start_run(config: TrainConfig) -> TrainingRun:
    """Set up: the settings checked, processes and device, seeds, the data, model, loss and optimiser of
    `build_training` (from the saved state when resuming), and the run directory's history."""
    config.check()  # fields may have been changed after construction
    rank, world, device = _setup_distributed(config)
    run_dir = Path(config.out)
    state, resumes = _resume_state(config, run_dir) if config.resume else (None, [])
    _seed_everything(config.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()

    setup = build_training(config, device, world)
    start_step = 0
    if state is not None:
        setup.encoder.clip.load_state_dict(_load_saved(run_dir / CHECKPOINT_NAME, "resume=True needs the checkpoint"))
        setup.optimizer.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"])
        start_step = int(state["step"])
    model = (
        DistributedDataParallel(setup.encoder, device_ids=[device] if device.type == "cuda" else None)
        if world > 1
        else setup.encoder
    )

    start_record = (
        read_config(run_dir).get("start")
        if config.resume
        else describe_start(config.arch, config.pretrained, config.model_cache_dir)
        if rank == 0
        else None
    )
    if rank == 0:  # keep the history of the steps the weights have seen, drop the rest
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / SUMMARY_NAME).unlink(missing_ok=True)  # written again at the end: until then the run is partial
        start_history(run_dir, start_step if config.resume else None)
    return TrainingRun(config, setup, model, device, rank, world, autocast, start_step, resumes, start_record)


def _resume_state(config: TrainConfig, run_dir: Path) -> tuple[dict, list[dict]]:
    """The saved training state and config.json's resume records with this resume added; checked before any
    work: a resumed run must continue the same training (resume_changes)."""
    state = _load_saved(run_dir / STATE_NAME, "resume=True needs the training state; run without resume first")
    start = int(state["step"])
    resumes = read_config(run_dir).get("resumes", []) + [
        {"from_step": start, "changed": resume_changes(config, run_dir, start)}
    ]
    return state, resumes


def run_steps(run: TrainingRun, callback: Optional[Callable[[dict, torch.nn.Module], None]] = None) -> None:
    """The loop: from run.start_step to config.steps, one optimiser step per global batch (field dropout, learning
    rate, `train_step`), a line of history.jsonl per step and a checkpoint every config.checkpoint_every steps."""
    config, setup = run.config, run.setup
    setup.encoder.train()
    stream = batch_stream(setup.dataset, setup.collate, config, run.start_step, run.rank, run.world)
    bar = tqdm(
        range(run.start_step, config.steps),
        desc="train",
        disable=not (config.progress and run.is_main),
        initial=run.start_step,
        total=config.steps,
    )
    with (run.run_dir / HISTORY_NAME).open("a") if run.is_main else nullcontext() as history:
        for step in bar:
            t0 = time.perf_counter()
            epoch, batch = next(stream)
            mask = batch["field_mask"]  # this process holds rows rank * B .. (rank + 1) * B of the global batch
            batch["field_mask"] = setup.field_dropout.apply(
                mask, step, first_row=run.rank * len(mask), batch_rows=config.batch_size
            )
            lr = lr_at(step, config)
            for group in setup.optimizer.param_groups:
                group["lr"] = lr
            try:
                loss = train_step(
                    run.model,
                    setup.loss_fn,
                    setup.optimizer,
                    batch,
                    config.grad_clip,
                    run.autocast,
                    config.micro_batch,
                )
            except FloatingPointError as error:
                raise _diverged(error, step, run) from None

            record = {
                "step": step,
                "loss": loss.item(),
                "lr": lr,
                "logit_scale": setup.encoder.logit_scale.exp().item(),
                "pairs_per_s": config.batch_size / (time.perf_counter() - t0),
                "epoch": epoch,
            }
            if run.is_main:
                history.write(json.dumps(record) + "\n")
                history.flush()
                bar.set_postfix(loss=f"{record['loss']:.4f}", pairs_s=f"{record['pairs_per_s']:.0f}")
            if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
                run.save(step + 1)
                run.last_saved = step + 1
            if callback is not None:
                callback(record, setup.encoder)


def _diverged(error: FloatingPointError, step: int, run: TrainingRun) -> FloatingPointError:
    """The error that stops a run whose loss is not finite: the step, the last good checkpoint, what to try."""
    where = (
        f"the last good checkpoint (step {run.last_saved}) is in {run.run_dir}"
        if run.last_saved is not None
        else "no checkpoint was written yet (set checkpoint_every)"
    )
    return FloatingPointError(
        f"{error} at step {step}: stopping; {where}. Lower lr, check the STW weights (finite, >= 0) and the score "
        "column"
    )


def finish_run(run: TrainingRun, started: float) -> None:
    """Finish: the final checkpoint and summary.json (`started`: the loop's perf_counter start, for wall_s)."""
    run.save(run.config.steps)
    if not run.is_main:
        return
    encoder = run.setup.encoder
    summary = write_summary(
        run.run_dir,
        steps=run.config.steps,
        device=str(run.device),
        world_size=run.world,
        wall_s=time.perf_counter() - started,
        logit_scale=encoder.logit_scale.exp().item(),
        n_params=sum(p.numel() for p in encoder.parameters()),
        n_pairs=len(run.setup.dataset),
    )
    if run.config.progress:
        print(
            f"trained {run.config.steps} steps in {summary['wall_s']:.0f} s "
            f"({summary['pairs_per_s']:.0f} pairs/s): loss {summary['first_loss']:.3f} -> "
            f"{summary['final_loss_mean_last_10pct']:.3f}; run dir {run.run_dir}"
        )

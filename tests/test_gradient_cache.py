"""Gradient caching (`--micro-batch`, gcl_nb.training.loop.gradient_cached_backward): the whole batch's gradient
with one chunk in memory. Exact up to rounding for towers without BatchNorm, checked in float64 (where rounding
is ~1e-16) and over 20 float32 training steps, in one process and under torchrun."""

import json
import os
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from gcl_nb.models import load_encoder
from gcl_nb.training import loop, train
from gcl_nb.training.loop import batch_stream, build_training, gradient_cached_backward
from gcl_nb.workbench.cli import main
from gcl_nb.workbench.presets import train_config

ROOT = Path(__file__).resolve().parents[1]


def one_step_gradients(data, arch: str, micro_batch: int | None, dtype=torch.float64, chunked=False, **changes) -> dict:
    """The parameter gradients of one batch of 16, whole or gradient-cached, in `dtype`. `chunked`: the reference
    for dropout, the batch encoded with gradients in `micro_batch` chunks (drawing masks in the order the cache
    does), one loss over the joined embeddings, one backward."""
    config = train_config("smoke", data=str(data), arch=arch, batch_size=16, progress=False, **changes)
    torch.manual_seed(0)
    setup = build_training(config)
    encoder = setup.encoder.to(dtype).train()
    _, batch = next(batch_stream(setup.dataset, setup.collate, config, 0, 0, 1))
    fields = {k: v.to(dtype) if v.is_floating_point() else v for k, v in batch["fields"].items()}
    inputs = ({"query": batch["query"]}, fields, batch["field_mask"])
    targets = (batch["score"].to(dtype), batch["query_code"], batch["doc_code"])
    if micro_batch is None:
        setup.loss_fn(*encoder(*inputs), *targets).backward()
    elif chunked:
        rows = [slice(a, a + micro_batch) for a in range(0, 16, micro_batch)]
        parts = [
            encoder({"query": inputs[0]["query"][r]}, {k: v[r] for k, v in fields.items()}, inputs[2][r]) for r in rows
        ]
        q, d = (torch.cat([p[i] for p in parts]) for i in (0, 1))
        setup.loss_fn(q, d, parts[0][2], *targets).backward()
    else:
        gradient_cached_backward(encoder, setup.loss_fn, inputs, targets, micro_batch, nullcontext())
        tables = [m for m in encoder.modules() if isinstance(m, torch.nn.Embedding)]
        assert tables and not any(table.sparse for table in tables)  # sparse over the chunks only
    assert all(p.grad.layout == torch.strided for p in encoder.parameters() if p.grad is not None)
    return {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}


def largest_relative_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(((a[n] - b[n]).norm() / a[n].norm()).item() for n in a if a[n].norm() > 0)


@pytest.mark.parametrize("target, rhs", [("diagonal", ["image", "title"]), ("multipos", ["title"])])
def test_cached_gradient_is_the_whole_batch_gradient_in_float64(synthshop_smoke, target, rhs):
    whole = one_step_gradients(synthshop_smoke, "gcl-tiny", None, target=target, rhs=rhs)
    for micro_batch in (4, 5):  # 4 chunks of 4; 16 rows over ceil(16/5) = 4 balanced chunks
        cached = one_step_gradients(synthshop_smoke, "gcl-tiny", micro_batch, target=target, rhs=rhs)
        assert largest_relative_difference(whole, cached) < 1e-12  # measured 2.9e-15
    assert "clip.logit_scale" in whole  # the temperature's gradient comes through the cache too


def test_batch_norm_towers_normalise_each_chunk_on_its_own(synthshop_smoke):
    """The documented difference: BatchNorm statistics are the chunk's, so the gradient is another one."""
    whole = one_step_gradients(synthshop_smoke, "gcl-rn-tiny", None)
    cached = one_step_gradients(synthshop_smoke, "gcl-rn-tiny", 8)
    assert largest_relative_difference(whole, cached) > 1e-3


def test_dropout_draws_the_same_masks_in_both_passes(synthshop_smoke, monkeypatch):
    """The MiniLM text tower has dropout (p 0.1): each chunk's second pass replays its first pass's random state,
    so the cached gradient is the gradient for the masks drawn, that of the chunks encoded with gradients and one
    loss (float64). Without the replay the second pass draws other masks: another gradient."""
    minilm = dict(text_tower="minilm", rhs=["title"])
    reference = one_step_gradients(synthshop_smoke, "gcl-tiny", 4, chunked=True, **minilm)
    cached = one_step_gradients(synthshop_smoke, "gcl-tiny", 4, **minilm)
    assert largest_relative_difference(reference, cached) < 1e-12
    monkeypatch.setattr(loop, "_set_rng_state", lambda state: None)
    unreplayed = one_step_gradients(synthshop_smoke, "gcl-tiny", 4, **minilm)
    assert largest_relative_difference(reference, unreplayed) > 1e-2


@pytest.mark.slow
def test_twenty_cached_steps_train_the_model_the_whole_batch_trains(synthshop_smoke, tmp_path):
    """float32, 20 steps of batch 16 in chunks of 4: the weights stay within 1e-4 of the whole-batch run, a tenth
    of one Adam step (lr 1e-3). Measured 9.3e-6 (diagonal), against 1.2e-6 between 1 and 2 threads of the
    whole-batch run: chunking changes the order of the weight-gradient sums, and Adam amplifies rounding in
    near-zero gradients."""
    runs = {}
    for name, micro_batch in (("whole", None), ("cached", 4)):
        config = train_config(
            "smoke",
            data=str(synthshop_smoke),
            arch="gcl-tiny",
            steps=20,
            batch_size=16,
            micro_batch=micro_batch,
            out=str(tmp_path / name),
            progress=False,
        )
        runs[name] = dict(load_encoder(train(config)).clip.named_parameters())
    difference = max((runs["whole"][k] - runs["cached"][k]).abs().max().item() for k in runs["whole"])
    assert difference < 1e-4, difference


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_processes_with_cached_gradients_train_the_model_one_process_trains(synthshop_smoke, tmp_path):
    """torchrun, 2 processes each caching its 8 rows in chunks of 4, against one process with the whole batch
    of 16 (ViT towers: no BatchNorm). The tolerance is the one of the multi-process test in test_train.py."""
    common = [
        "train",
        "--data",
        str(synthshop_smoke),
        "--preset",
        "smoke",
        "--arch",
        "gcl-tiny",
        "--steps",
        "12",
        "--batch-size",
        "16",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for launcher, extra, out in (
        ([], [], "one"),
        (["-m", "torch.distributed.run", "--nproc_per_node=2"], ["--micro-batch", "4"], "two"),
    ):
        result = subprocess.run(
            [sys.executable, *launcher, "-m", "gcl_nb", *common, *extra, "--out", str(tmp_path / out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=500,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "config.json").read_text())["train"]["micro_batch"] == 4
    one, two = (dict(load_encoder(tmp_path / out).clip.named_parameters()) for out in ("one", "two"))
    difference = max((one[k] - two[k]).abs().max().item() for k in one)
    assert difference < 1e-4, difference


@pytest.mark.parametrize("value", ["0", "1", "17", "2.5"])
def test_a_micro_batch_that_cannot_be_is_one_line(synthshop_smoke, tmp_path, capsys, value):
    argv = ["train", "--data", str(synthshop_smoke), "--preset", "smoke", "--batch-size", "16", "--micro-batch", value]
    if value == "2.5":
        with pytest.raises(SystemExit):  # argparse: not an integer
            main([*argv, "--out", str(tmp_path / "run")])
        return
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert f"micro_batch={value}: must be an integer from 2 to batch_size (16)" in error
    assert len(error.splitlines()) == 1 and not (tmp_path / "run").exists()

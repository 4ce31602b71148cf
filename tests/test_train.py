import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.evaluation.encoding import encode_queries
from gcl_nb.models import load_encoder
from gcl_nb.training import TrainConfig, lr_at, train
from gcl_nb.workbench.cli import main as cli_main
from gcl_nb.workbench.presets import TRAIN_PRESETS, train_config

QUERIES = ["red dress", "blue running shoes"]
ROOT = Path(__file__).resolve().parents[1]


def smoke(data, out, **overrides):
    return train_config("smoke", data=str(data), out=str(out), progress=False, **overrides)


def history(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_lr_schedule_warms_up_then_decays_to_zero():
    config = TrainConfig(lr=1.0, warmup=4, steps=14)
    assert [lr_at(s, config) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(9, config) == pytest.approx(0.5)
    assert lr_at(14, config) == pytest.approx(0.0, abs=1e-12)
    assert set(TRAIN_PRESETS) == {"smoke", "cpu", "gpu"}
    with pytest.raises(SettingError, match="preset=.tpu.: choose one of smoke, cpu, gpu"):
        train_config("tpu")


def test_a_batch_larger_than_the_distinct_queries_says_what_to_do(synthshop_smoke, tmp_path):
    with pytest.raises(ValueError, match="distinct training queries cannot fill one batch of 4096 distinct queries"):
        train(smoke(synthshop_smoke, tmp_path / "run", batch_size=4096))
    with pytest.raises(ValueError, match="training pairs cannot fill one batch of 100000"):
        train(smoke(synthshop_smoke, tmp_path / "run", batch_size=100_000, same_query="none"))


def test_smoke_run_learns_and_its_checkpoint_encodes_identically(synthshop_smoke, tmp_path):
    live = {}
    run = train(
        smoke(synthshop_smoke, tmp_path / "run", steps=24, stw="linear"),
        callback=lambda record, encoder: live.update(encoder=encoder),
    )
    records = history(run)
    assert [r["step"] for r in records] == list(range(24))
    assert set(records[0]) == {"step", "loss", "lr", "logit_scale", "pairs_per_s", "epoch"}
    first, last = records[:6], records[-6:]
    assert sum(r["loss"] for r in last) < 0.9 * sum(r["loss"] for r in first)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 24 and summary["pairs_per_s"] > 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["stw"] == "linear" and config["step"] == 24
    with torch.no_grad():
        reloaded = encode_queries(load_encoder(run), QUERIES)
        assert torch.equal(reloaded, encode_queries(live["encoder"], QUERIES))


class Interrupt(Exception):
    pass


def interrupt_after(step):
    def callback(record, encoder):
        if record["step"] == step:
            raise Interrupt

    return callback


def test_resumed_run_ends_with_the_same_weights(synthshop_smoke, tmp_path):
    options = dict(steps=6, checkpoint_every=3, batch_size=8)
    whole = train(smoke(synthshop_smoke, tmp_path / "whole", **options))
    with pytest.raises(Interrupt):
        train(smoke(synthshop_smoke, tmp_path / "cut", **options), callback=interrupt_after(4))
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["step"] == 3
    resumed = train(smoke(synthshop_smoke, tmp_path / "cut", resume=True, **options))
    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in history(whole)] == [r["loss"] for r in history(resumed)]
    with pytest.raises(DataError, match="train_state.pt does not exist: resume=True needs the training state"):
        train(smoke(synthshop_smoke, tmp_path / "never", resume=True))
    assert not (tmp_path / "never").exists()


def test_resume_refuses_other_settings_and_records_a_continuation(synthshop_smoke, tmp_path):
    run = train(smoke(synthshop_smoke, tmp_path / "run", steps=3, batch_size=8))
    files = {name: (run / name).read_bytes() for name in ("checkpoint.pt", "config.json", "history.jsonl")}
    for change, named in [
        (dict(stw="constant"), "stw: saved 'linear', requested 'constant'"),
        (dict(batch_size=16), "batch_size: saved 8, requested 16"),
        (dict(lr=0.01), "lr: saved"),
        (dict(arch="gcl-tiny"), "arch: saved 'gcl-rn-tiny', requested 'gcl-tiny'"),
        (dict(target="multipos"), "target"),
        (dict(data=str(tmp_path)), "data: saved"),
    ]:
        with pytest.raises(SettingError, match=f"resume: .* was trained with other settings \\({named}"):
            settings = {"data": synthshop_smoke, "steps": 3, "batch_size": 8, **change}
            train(smoke(settings.pop("data"), run, resume=True, **settings))
    with pytest.raises(SettingError, match="steps=2 is below the checkpoint's step 3"):
        train(smoke(synthshop_smoke, run, steps=2, batch_size=8, resume=True))
    assert files == {name: (run / name).read_bytes() for name in files}, "a refused resume writes nothing"
    train(smoke(synthshop_smoke, run, steps=5, batch_size=8, resume=True))  # a deliberate continuation
    config = json.loads((run / "config.json").read_text())
    assert config["step"] == 5 and config["train"]["steps"] == 5
    assert config["resumes"] == [{"from_step": 3, "changed": {"steps": [3, 5]}}]
    assert [r["step"] for r in history(run)] == list(range(5))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(synthshop_smoke, tmp_path):
    calls = []

    def poisoned(scores):
        calls.append(1)
        return torch.full_like(scores, math.nan if len(calls) == 5 else 1.0)  # call 1: make_loss checks the scores

    with pytest.raises(FloatingPointError, match=r"loss is nan at step 3.*last good checkpoint \(step 2\)"):
        train(
            smoke(synthshop_smoke, tmp_path / "run", stw=poisoned, stw_rescale=None, checkpoint_every=2, batch_size=8)
        )
    assert json.loads((tmp_path / "run" / "config.json").read_text())["step"] == 2
    assert len(history(tmp_path / "run")) == 3
    with pytest.raises(DataError, match="stopped at step 2 of 12"):  # a stopped run is not taken for a whole one
        load_encoder(tmp_path / "run")
    assert load_encoder(tmp_path / "run", allow_partial=True).source["partial"] == "stopped at step 2 of 12"


@pytest.mark.parametrize(
    "base, change",
    [
        (dict(same_query="none"), dict(target="multipos")),
        (dict(same_query="none"), dict(same_query="mask")),
        (dict(), dict(stw="constant")),
        (dict(), dict(stw="reciprocal")),
        (dict(), dict(stw_rescale="range")),
        (dict(stw_rescale=None), dict(normalize="sum_w")),  # with rescale="mean", sum(w) = N: the same loss
        (dict(), dict(symmetric=False)),
        (dict(), dict(rhs=["title"])),
    ],
)
def test_each_loss_option_changes_the_training(synthshop_smoke, tmp_path, base, change):
    """Same seed, data and batches: a loop that ignored the option would repeat the base run's losses."""
    runs = [
        train(smoke(synthshop_smoke, tmp_path / name, steps=3, **options))
        for name, options in (("base", base), ("changed", {**base, **change}))
    ]
    base_losses, changed_losses = ([r["loss"] for r in history(run)] for run in runs)
    assert len(changed_losses) == 3 and all(math.isfinite(x) for x in changed_losses)
    assert max(abs(a - b) for a, b in zip(base_losses, changed_losses)) > 1e-4, (base_losses, changed_losses)


def test_cli_train(synthshop_smoke, tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        cli_main(
            [
                "train",
                "--data",
                str(synthshop_smoke),
                "--preset",
                "smoke",
                "--stw",
                "reciprocal",
                "--steps",
                "2",
                "--rhs",
                "image,title",
                "--rhs-weights",
                "0.5,0.5",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert f"run directory: {out}" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["stw"] == "reciprocal" and config["encoder"]["rhs_weights"] == [0.5, 0.5]
    assert len(history(out)) == 2


@pytest.mark.slow
def test_torchrun_two_processes_print_once_without_warnings(synthshop_smoke, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "-m",
            "gcl_nb",
            "train",
            "--data",
            str(synthshop_smoke),
            "--preset",
            "smoke",
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--target",
            "multipos",
            "--no-progress",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("run directory:") == 1
    assert "Warning" not in result.stderr, result.stderr[-3000:]
    assert [r["step"] for r in history(out)] == [0, 1]
    assert json.loads((out / "summary.json").read_text())["world_size"] == 2


def _max_differences(a: Path, b: Path) -> dict[str, float]:
    """Largest absolute differences between two runs: parameters, BatchNorm running statistics, step losses."""
    wa, wb = (torch.load(run / "checkpoint.pt", weights_only=True) for run in (a, b))
    assert wa.keys() == wb.keys()
    stats = [k for k in wa if k.endswith(("running_mean", "running_var"))]
    params = [k for k in wa if wa[k].is_floating_point() and k not in stats]
    la, lb = ([r["loss"] for r in history(run)] for run in (a, b))
    assert len(la) == len(lb)
    return {
        "weights": max((wa[k] - wb[k]).abs().max().item() for k in params),
        "bn_stats": max((wa[k] - wb[k]).abs().max().item() for k in stats),
        "loss": max(abs(x - y) for x, y in zip(la, lb)),
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("target", ["diagonal", "multipos"])
def test_two_processes_train_the_same_model_as_one(synthshop_smoke, tmp_path, target):
    """torchrun with 2 processes vs 1 process, the same global batch of 16, 20 steps, the default model (its
    ResNet image tower has BatchNorm): the same training up to float32 rounding. Two processes reduce the sums in
    another order (~1e-7 relative per step), and Adam's normalised update can turn a rounding difference in a
    near-zero gradient into a difference of up to lr (1e-3) in one step. The tolerance, 1e-4 on every weight,
    running statistic and step loss, is a tenth of such a step and 5x the largest difference measured (weights
    1.7e-5 / 2.9e-6, running statistics 6.8e-6 / 3.3e-7, losses 3.2e-6 / 2.6e-6, diagonal / multipos).
    Before BatchNorm used the global batch and augmentation was drawn per sample, the runs differed by 1.5e-2 in
    the weights, 0.11-0.12 in the running statistics and 0.3-0.4 in the losses (0.04-0.08 at the first step)."""
    common = [
        "train",
        "--data",
        str(synthshop_smoke),
        "--preset",
        "smoke",
        "--steps",
        "20",
        "--batch-size",
        "16",
        "--target",
        target,
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for launcher, out in (([], "one"), (["-m", "torch.distributed.run", "--nproc_per_node=2"], "two")):
        result = subprocess.run(
            [sys.executable, *launcher, "-m", "gcl_nb", *common, "--out", str(tmp_path / out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=500,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["world_size"] == 2
    differences = _max_differences(tmp_path / "one", tmp_path / "two")
    assert max(differences.values()) < 1e-4, differences


def _first_step_gradients(rank: int, world: int, threads: int, port: int, config: dict, out: str) -> None:
    """One training step of `config` in process `rank` of `world` (torch.multiprocessing.spawn); the gradients
    (averaged over the processes by DistributedDataParallel) saved to `out` by rank 0."""
    torch.set_num_threads(threads)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))

    def keep(record, encoder):
        if rank == 0:
            torch.save({n: p.grad for n, p in encoder.named_parameters() if p.grad is not None}, out)

    train(TrainConfig(**config, out=f"{out}.run"), callback=keep)
    if world > 1:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_processes_compute_the_gradients_of_one_up_to_thread_noise(synthshop_smoke, tmp_path):
    """The gradients of the first training step (smoke data, default model, 32 px, no clipping) with the global
    batch split over 2 processes (GlobalBatchNorm) equal those of 1 process within 10x the difference that 1 vs
    2 threads make in one process. Per parameter: max |difference| / max |gradient| (floored at 1e-4 of the
    largest gradient, for the attention pool's key bias, whose exact gradient is 0). Measured on 2 CPU cores:
    threads 1.3e-5 / 1.7e-5, processes 2.2e-5 / 1.8e-5 (batch 16 / 32); with float32 statistics the processes
    differed by 1.6e-3 at batch 32 (the first BatchNorm layers' gradients), 94x the thread noise."""
    import socket

    import torch.multiprocessing as mp

    for batch in (16, 32):
        config = dict(
            data=str(synthshop_smoke),
            image_size=32,
            batch_size=batch,
            steps=1,
            warmup=0,
            grad_clip=0.0,
            progress=False,
            device="cpu",
        )
        gradients = {}
        for world, threads in ((1, 1), (1, 2), (2, 1)):
            with socket.socket() as free:
                free.bind(("127.0.0.1", 0))
                port = free.getsockname()[1]
            out = str(tmp_path / f"b{batch}-w{world}-t{threads}.pt")
            mp.spawn(_first_step_gradients, args=(world, threads, port, config, out), nprocs=world)
            gradients[world, threads] = torch.load(out, weights_only=True)
        one = gradients[1, 1]
        floor = 1e-4 * max(g.abs().max().item() for g in one.values())

        def difference(other: dict) -> float:
            return max((one[n] - other[n]).abs().max().item() / max(one[n].abs().max().item(), floor) for n in one)

        threads, processes = difference(gradients[1, 2]), difference(gradients[2, 1])
        assert 0 < threads and processes <= 10 * threads, (batch, processes, threads)


def test_global_batch_norm_in_one_process_is_batch_norm(tmp_path):
    """GlobalBatchNorm sums its statistics over the processes; with one process it must be BatchNorm exactly as
    torch computes it: outputs, gradients and running statistics (two steps, then evaluation)."""
    import torch.distributed as dist

    from gcl_nb.training.sync_batch_norm import GlobalBatchNorm, synchronise_batch_norm

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        reference = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
        synced = synchronise_batch_norm(
            torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)), torch.device("cpu")
        )
        synced.load_state_dict(reference.state_dict())
        assert isinstance(synced[1], GlobalBatchNorm) and synced.state_dict().keys() == reference.state_dict().keys()
        for _ in range(2):
            x = torch.randn(6, 3, 8, 8)
            outputs = [model(x) for model in (reference, synced)]
            torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-5)
            for out in outputs:
                (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
            for a, b in zip(reference.parameters(), synced.parameters()):
                torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-4)  # the conv bias: 0 up to rounding
        for name, value in reference.state_dict().items():
            torch.testing.assert_close(synced.state_dict()[name], value, rtol=1e-5, atol=1e-6)
        reference.eval(), synced.eval()
        x = torch.randn(2, 3, 8, 8)
        torch.testing.assert_close(synced(x), reference(x))
    finally:
        dist.destroy_process_group()


def test_a_history_cut_short_by_a_kill_is_read_without_its_last_line(tmp_path):
    from gcl_nb.data.schema import DataError
    from gcl_nb.training.run_dir import HISTORY_NAME, history_records, read_history, start_history

    path = tmp_path / HISTORY_NAME
    path.write_text('{"step": 0, "loss": 2.0}\n{"step": 1, "loss": 1.5}\n{"step": 2, "lo')  # killed mid-line
    assert read_history(tmp_path)["step"].tolist() == [0, 1]
    start_history(tmp_path, keep_before=1)  # a resume from the step-1 checkpoint
    assert path.read_text() == '{"step": 0, "loss": 2.0}\n'
    path.write_text('{"step": 0, "loss": 2.0}\n{"ste\n{"step": 2, "loss": 1.0}\n')
    with pytest.raises(DataError, match="line 2"):
        history_records(path)

"""The `gcl-nb` entry point and the shared data schema."""

import json
import subprocess
import sys

import pytest

from gcl_nb.data import load_gs
from gcl_nb.data.schema import SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS, DataError, SettingError, check_split
from gcl_nb.losses import STW_PRESETS
from gcl_nb.models import EncoderConfig
from gcl_nb.workbench import cli
from gcl_nb.workbench.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "gcl_nb", "--help"], capture_output=True, text=True, check=True)
    for name in SUBCOMMANDS:
        assert name in out.stdout


def test_unknown_subcommand_exits_with_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_ctrl_c_ends_a_subcommand_with_one_line_and_status_130(tmp_path):
    """SIGINT during `make-data` (once it writes): one line, no traceback, status 130, and the interrupted folder is
    recognisably incomplete."""
    import signal
    import time

    out = tmp_path / "shop"
    command = [sys.executable, "-m", "gcl_nb", "make-data", "--preset", "cpu", "--out", str(out)]
    process = subprocess.Popen(  # SIGINT as a terminal sends it, even when pytest runs with it ignored
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / ".shop.partial").is_dir() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "gcl-nb make-data: interrupted (Ctrl-C)\n"
    with pytest.raises(DataError, match="incomplete: gcl-nb make-data was interrupted"):
        load_gs(out)


def test_split_tables_agree_with_marqo_gs_layout():
    assert SPLITS == ("in_domain", "novel_query", "novel_document", "zero_shot")
    for split in SPLITS:
        stem = SPLIT_FILE_STEMS[split]
        query_side, product_half = int(stem[6]), int(stem[-1])
        assert SPLIT_CORPUS[split] == product_half + 1
        assert query_side == (0 if split in ("in_domain", "novel_document") else 1)


def test_check_split_names_the_valid_choices():
    assert check_split("zero_shot") == "zero_shot"
    with pytest.raises(DataError, match="in_domain, novel_query, novel_document, zero_shot"):
        check_split("indomain")


# ------------------------------------------------------------------------------------ bad settings: one line, status 2
def _one_line_error(capsys, argv, kind: str, *expected: str) -> str:
    """Run the CLI on argv: status 2, nothing on stdout, one stderr line of `kind` holding every `expected` text."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"gcl-nb {argv[0]}: {kind}: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--steps", "-1"], "steps=-1: must be an integer >= 1"),
        (["--batch-size", "0"], "batch_size=0: must be an integer >= 2"),
        (["--stw", "bogus"], f"stw='bogus': choose one of {', '.join(STW_PRESETS)}"),
        (["--arch", "bogus"], "arch='bogus': unknown architecture"),
        (["--lr", "0"], "lr=0.0: must be a finite number > 0"),
        (["--target", "soft"], "target='soft': choose one of diagonal, multipos"),
        (["--same-query", "x"], "same_query='x': choose one of sampler, none, mask"),
        (["--split", "test"], "split='test': choose one of in_domain"),
        (["--preset", "tpu"], None),  # argparse's choices: its usage error
    ],
)
def test_train_refuses_bad_settings_before_writing_anything(synthshop_smoke, tmp_path, capsys, flags, expected):
    out = tmp_path / "run"
    argv = ["train", "--data", str(synthshop_smoke), "--out", str(out), "--no-progress", *flags]
    if expected is None:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    else:
        _one_line_error(capsys, argv, "invalid setting", expected)
        with pytest.raises(SettingError, match=expected.split(":")[0]):
            main([*argv, "--debug"])  # --debug keeps the traceback
    assert not out.exists()


def test_a_batch_that_does_not_split_over_the_processes_is_one_line_from_the_first_process(
    synthshop_smoke, tmp_path, capsys, monkeypatch
):
    argv = [
        "train",
        "--data",
        str(synthshop_smoke),
        "--preset",
        "smoke",
        "--batch-size",
        "9",
        "--out",
        str(tmp_path / "run"),
    ]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    _one_line_error(capsys, argv, "invalid setting", "batch_size=9", "2 processes; use a multiple of 2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(cli, "RANK_GRACE_S", 0.0)
    assert main(argv) == 2 and capsys.readouterr().err == ""  # the other processes stay quiet
    assert not (tmp_path / "run").exists()


def test_evaluate_reports_a_missing_or_broken_checkpoint(synthshop_smoke, tmp_path, capsys):
    base = ["--data", str(synthshop_smoke), "--splits", "zero_shot", "--top-q", "4"]
    _one_line_error(
        capsys,
        ["evaluate", "--model", str(tmp_path / "nowhere"), *base],
        "data error",
        "no such file or folder",
        "nowhere",
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"encoder": EncoderConfig(image_size=32).to_dict()}))
    for name, content in (("empty", b""), ("truncated", b"PK\x03\x04 half a zip")):
        (run / "checkpoint.pt").write_bytes(content)
        _one_line_error(
            capsys, ["evaluate", "--model", str(run), *base], "data error", "checkpoint.pt is not a readable checkpoint"
        )
    (run / "config.json").write_text("{}")
    _one_line_error(
        capsys,
        ["evaluate", "--model", str(run), *base],
        "data error",
        "config.json: its 'encoder' entry is not an EncoderConfig",
    )


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--preset", "bogus"], ("preset='bogus'", "choose one of smoke, cpu, gpu")),
        (["-p", "preset=bogus"], ("preset='bogus'", "choose one of smoke, cpu, gpu")),
        (["-p", "top_k=abc"], ("top_k='abc'", "02_gpu_training.ipynb declares top_k = 1000): give an integer")),
        (["-p", "ci=1"], ("ci=1", "give true or false")),
        (["-p", "nope=1"], ("'nope' is not declared by any notebook", "the notebooks declare")),
        (["-p", "method=tsne"], ("method='tsne'", "choose one of umap, pca, None")),
        # right type, refused by the library's check of the setting it feeds (value_checks.VALUE_CHECKS)
        (["-p", 'stw_params={"recip": {"top": 10}}'], ("notebook parameter stw_params", "unknown STW 'recip'")),
        (["-p", 'stw_params={"reciprocal": {"tops": 10}}'], ("stw_params['reciprocal']", "has no parameter tops")),
        (["-p", 'methods=["clip", "gcl-linear", "gcl-cubic"]'], ("notebook parameter methods", "['gcl-cubic']")),
        (["-p", 'methods=["clip"]'], ("methods=['clip'] lacks ['gcl-linear']", "notebooks 3 and 4 compare")),
        (["-p", 'custom_stw="(s / 100) **"'], ("notebook parameter custom_stw", "not an expression in the scores")),
        (["-p", "steps=0"], ("notebook parameter steps", "steps=0: must be an integer >= 1")),
        (["-p", "metric=ndcg@5"], ("metric='ndcg@5'", "choose one of ndcg@10, err")),
        (["-p", 'map_splits=["zeroshot"]'], ("map_splits=['zeroshot']", "choose from in_domain")),
    ],
)
def test_notebook_parameters_are_checked_before_any_notebook_runs(tmp_path, capsys, flags, expected):
    out = tmp_path / "run"
    _one_line_error(capsys, ["notebooks", "--out", str(out), "--no-html", *flags], "invalid setting", *expected)
    assert not out.exists()


def test_a_missing_notebook_folder_is_one_line_and_writes_nothing(tmp_path, capsys):
    out, folder = tmp_path / "run", (tmp_path / "nowhere").resolve()
    _one_line_error(
        capsys,
        ["notebooks", "--out", str(out), "--notebook-dir", str(folder)],
        "invalid setting",
        f"no notebook folder at {folder} (the folder given): pass --notebook-dir",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--preset", "bogus"], "preset='bogus': choose one of smoke, cpu, gpu"),
        (["--set", "nope=1"], "unknown training setting(s) ['nope']"),
        (["--set", "lr=abc"], "lr='abc': must be a finite number > 0"),
        (["--methods", "gcl-cubic"], "unknown method(s) ['gcl-cubic']"),
    ],
)
def test_experiment_checks_every_training_setting_before_generating_data(tmp_path, capsys, flags, expected):
    out = tmp_path / "experiment"
    _one_line_error(capsys, ["experiment", "--out", str(out), "--seeds", "0", *flags], "invalid setting", expected)
    assert not out.exists()

"""The registries (score-to-weight functions, metrics) and the option fields are the one place each name is
written: docs/METHOD.md's tables and the CLI help come from them or are checked against them here."""

import re
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from gcl_nb.data.schema import SettingError
from gcl_nb.losses import STW_PRESETS, GCLLoss, gcl_loss, get_stw
from gcl_nb.metrics import METRIC_COLUMNS, METRICS, OFFICIAL_METRICS
from gcl_nb.training import TrainConfig
from gcl_nb.workbench.cli import main

METHOD = Path(__file__).resolve().parents[1] / "docs" / "METHOD.md"


def _table_rows(heading: str, first_column: str) -> list[list[str]]:
    """The cells of the rows of the METHOD.md table under `heading` whose header starts with `first_column`."""
    section = METHOD.read_text().split(heading, 1)[1]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_column} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_method_md_lists_every_stw_with_its_parameters_and_description():
    rows = [r for r in _table_rows("### Score-to-weight functions", "name") if r[0].startswith("`")]
    documented = {row[0].strip("`"): (row[2], row[3]) for row in rows}
    registered = {
        name: (", ".join(f"`{p}` = {d:g}" for p, d in preset.parameters.items()) or "none", preset.description)
        for name, preset in STW_PRESETS.items()
    }
    assert documented == registered


def test_method_md_lists_every_metric_column_and_whether_it_is_official():
    rows = _table_rows("### 6. Metrics", "column")
    assert [(row[0].strip("`"), row[2]) for row in rows] == [
        (name, "yes" if metric.official else "no") for name, metric in METRICS.items()
    ]
    assert METRIC_COLUMNS == tuple(METRICS) and set(OFFICIAL_METRICS) < set(METRIC_COLUMNS)


def test_training_defaults_of_an_stw_yield_to_given_parameters():
    scores = torch.tensor([3.0, 250.0])
    assert STW_PRESETS["reciprocal"].training_defaults(scores) == {"top": 250.0}
    assert STW_PRESETS["reciprocal"].training_defaults(torch.tensor([3.0])) == {"top": 100.0}
    assert STW_PRESETS["linear"].parameters == {"scale": 1.0, "offset": 0.0}
    assert torch.equal(get_stw("reciprocal", top=250.0)(scores), 1 / (251.0 - scores))


def test_train_help_lists_every_choice_and_stw(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for f in fields(TrainConfig):
        for choice in f.metadata.get("choices", ()):
            assert str(choice) in text, (f.name, choice)
    for name, preset in STW_PRESETS.items():
        assert " ".join(f"{name} (".split()) in text and " ".join(preset.description.split()) in text


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("steps", 0, "steps=0: must be an integer >= 1"),
        ("warmup", 1.5, "warmup=1.5: must be an integer >= 0"),
        ("lr", float("nan"), "lr=nan: must be a finite number > 0"),
        ("grad_clip", -1.0, "grad_clip=-1.0: must be a finite number >= 0"),
        ("resume", "yes", "resume='yes': must be true or false"),
        ("normalize", "mean", "normalize='mean': choose one of n, sum_w"),
        ("stw_rescale", "max", "stw_rescale='max': choose one of None, range, mean"),
    ],
)
def test_a_field_carries_its_own_check(field, value, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        TrainConfig(**{field: value})


def test_the_loss_checks_its_options_where_it_is_built_with_the_config_s_message():
    for option, value in (("target", "soft"), ("normalize", "mean"), ("same_query", "sampler")):
        with pytest.raises(ValueError, match=re.escape(f"{option}={value!r}: choose one of")):
            GCLLoss(**{option: value})
        if option != "target":  # the function the notebooks call checks its own two
            with pytest.raises(ValueError, match=re.escape(f"{option}={value!r}: choose one of")):
                gcl_loss(torch.eye(2), torch.eye(2), torch.ones(2), 1.0, **{option: value})
    assert TrainConfig(stw=lambda s: s.float()).stw is not None  # a callable passes the stw choices

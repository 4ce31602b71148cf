"""The score-to-weight function's settings in TrainConfig (issue 30): parameters for every preset, unbounded
scores (clicks, purchases) for the reciprocal STW, the range rescaling's lower end; and experiment tables that
were written with another set of metrics are rebuilt, never mixed."""

import pandas as pd
import pytest
import torch

from gcl_nb.data.schema import SettingError
from gcl_nb.evaluation import EvalConfig
from gcl_nb.training import TrainConfig, make_loss
from gcl_nb.workbench.cli import main
from gcl_nb.workbench.experiment import ExperimentConfig, run_experiment
from gcl_nb.workbench.experiment.outputs import RESULT_COLUMNS

CLICKS = pd.DataFrame({"score_linear": [1.0, 250.0, 5000.0]})  # a prepared shop's --score-column clicks


def test_reciprocal_weights_take_unbounded_scores():
    weights = make_loss(TrainConfig(stw="reciprocal"), CLICKS).pair_weight(torch.tensor([5000.0, 4999.0, 1.0]))
    torch.testing.assert_close(weights, torch.tensor([1.0, 0.5, 1 / 5000]))  # top = the largest training score
    bounded = make_loss(TrainConfig(stw="reciprocal"), pd.DataFrame({"score_linear": [1.0, 40.0]}))
    torch.testing.assert_close(bounded.pair_weight(torch.tensor([100.0])), torch.tensor([1.0]))  # top stays 100
    with pytest.raises(SettingError, match="exceeds top=100"):
        make_loss(TrainConfig(stw="reciprocal", stw_params={"top": 100}), CLICKS)


def test_stw_parameters_and_w_min_are_used_and_checked():
    doubled = make_loss(TrainConfig(stw="linear", stw_params={"scale": 2.0, "offset": 1.0}), CLICKS)
    torch.testing.assert_close(doubled.pair_weight(torch.tensor([3.0])), torch.tensor([7.0]))
    ranged = make_loss(TrainConfig(stw="linear", stw_rescale="range", stw_w_min=0.5), CLICKS)
    torch.testing.assert_close(ranged.rescaling(torch.tensor([1.0, 3.0])), torch.tensor([0.5, 1.0]))
    for bad, named in (
        (dict(stw="linear", stw_params={"top": 3.0}), "has no parameter top"),
        (dict(stw="constant", stw_params={"scale": 2.0}), "has no parameter scale"),
        (dict(stw="linear", stw_params={"scale": "big"}), "give NAME:NUMBER pairs"),
        (dict(stw_rescale="range", stw_w_min=2.0), "w_min must lie in [0, 1]"),
        (dict(stw="linear", stw_params={"scale": -1.0}), "negative weight"),
    ):
        with pytest.raises(SettingError, match=named.replace("[", r"\[").replace("]", r"\]")):
            make_loss(TrainConfig(**bad), CLICKS)


def test_train_refuses_a_top_below_the_scores_in_one_line_before_any_work(synthshop_smoke, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(synthshop_smoke),
        "--preset",
        "smoke",
        "--stw",
        "reciprocal",
        "--stw-params",
        "top:50",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "exceeds top=50" in error and len(error.splitlines()) == 1 and not out.exists()


def test_an_experiment_table_with_other_metrics_is_rebuilt_not_mixed(synthshop_smoke, tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    pd.DataFrame([{"method": "bm25", "seed": 0, "split": "novel_query", "ndcg@10": 0.123, "n_queries": 9}]).to_csv(
        out / "results.csv", index=False
    )  # an older version's columns
    config = ExperimentConfig(
        data=str(synthshop_smoke),
        out=str(out),
        preset="smoke",
        methods=["bm25"],
        seeds=[0],
        evaluation=EvalConfig(splits=("novel_query",), top_q=8),
        device="cpu",
    )
    results, _ = run_experiment(config)
    assert list(results.columns) == list(RESULT_COLUMNS) and len(results) == 1
    assert results["ndcg@10"].iloc[0] != 0.123 and results["err"].notna().all()


def test_experiment_stw_params_reach_every_method_with_that_stw_and_only_those():
    """`stw_params` per STW name (notebook 02's parameter): clip's constant STW takes none, a typo is one
    SettingError before any run, and an experiment folder written before the field resumes."""
    from gcl_nb.workbench.experiment.runner import _identity, method_train_config

    config = ExperimentConfig(
        data="unused",
        preset="smoke",
        methods=["clip", "gcl-linear", "gcl-reciprocal"],
        seeds=[0],
        stw_params={"reciprocal": {"top": 1000.0}, "linear": {"offset": 5.0}},
    )
    params = {m: method_train_config(config, m, 0).stw_params for m in config.methods}
    assert params == {"clip": {}, "gcl-linear": {"offset": 5.0}, "gcl-reciprocal": {"top": 1000.0}}
    for bad, message in (
        ({"recip": {"top": 1.0}}, "unknown STW 'recip'"),
        ({"reciprocal": {"tp": 1.0}}, "has no parameter tp"),
        ({"reciprocal": 3}, "give the STW's parameters by name"),
        ("top:1000", "give parameters per STW name"),
    ):
        with pytest.raises(SettingError, match=message):
            ExperimentConfig(data="unused", preset="smoke", methods=["clip"], seeds=[0], stw_params=bad)
    assert _identity({}, "stw_params") == _identity({"stw_params": {}}, "stw_params")
    assert _identity({}, "stw_params") != _identity({"stw_params": {"linear": {"offset": 5.0}}}, "stw_params")

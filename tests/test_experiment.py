"""The experiment harness: equal-terms training, tidy results, resume, and the report's statistics."""

import dataclasses
import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.workbench.experiment import (
    RESULT_COLUMNS,
    ExperimentConfig,
    gains,
    loss_report,
    loss_table,
    mean_std,
    report,
    run_experiment,
    significance_table,
    strength_sweep,
    sweep_gains,
)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method"):
        ExperimentConfig(data=".", methods=["clip", "gcl-cubic"])


@pytest.mark.slow
def test_experiment_trains_evaluates_and_resumes(synthshop_smoke, tmp_path):
    config = ExperimentConfig(
        data=str(synthshop_smoke),
        out=str(tmp_path / "exp"),
        preset="smoke",
        methods=["clip", "gcl-linear", "bm25", "random-init"],
        seeds=[0],
        overrides={"steps": 3},
        evaluation=EvalConfig(top_q=20, top_k=50),
    )
    results, per_query = run_experiment(config)
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert len(results) == 4 * 4 and set(results["split"]) == {
        "in_domain",
        "novel_query",
        "novel_document",
        "zero_shot",
    }
    assert results["ndcg@10"].between(0, 1).all()
    assert (tmp_path / "exp" / "clip-s0" / "checkpoint.pt").is_file()
    # the same queries are sampled for every method, so per-query values pair up
    counts = per_query.groupby(["split", "method"]).size().unstack()
    assert (counts.nunique(axis=1) == 1).all()
    # a second call finds every run done and trains nothing, however the data folder is written
    relative = os.path.relpath(synthshop_smoke)
    trained_at = (tmp_path / "exp" / "clip-s0" / "checkpoint.pt").stat().st_mtime_ns
    again, _ = run_experiment(ExperimentConfig(**{**config.__dict__, "data": relative}))
    assert len(again) == len(results) and relative != str(synthshop_smoke)
    assert (tmp_path / "exp" / "clip-s0" / "checkpoint.pt").stat().st_mtime_ns == trained_at
    assert results["ndcg@10"].dtype == float
    losses = loss_report(tmp_path / "exp")
    assert "## Training loss" in losses and "| clip-s0 " in losses and "| gcl-linear-s0 " in losses
    # other protocol settings make a different experiment: its old results are not reused
    changed = ExperimentConfig(
        **{**config.__dict__, "methods": ["bm25"], "evaluation": dataclasses.replace(config.evaluation, top_q=10)}
    )
    fresh, _ = run_experiment(changed)
    assert set(fresh["method"]) == {"bm25"} and (fresh["n_queries"] <= 10).all()
    text = report(results, per_query)
    assert "## zero_shot" in text and "| gcl-linear |" in text
    assert loss_table({"clip": tmp_path / "exp" / "clip-s0"}).shape == (1, 5)


def _table(values):
    rows = [
        dict(method=m, seed=s, split="in_domain", **{"ndcg@10": v, "err": v, "rbp@0.9": v})
        for (m, s), v in values.items()
    ]
    return pd.DataFrame(rows)


def test_mean_std_and_gain_over_the_baseline():
    results = _table({("clip", 0): 0.2, ("clip", 1): 0.4, ("gcl", 0): 0.4, ("gcl", 1): 0.5})
    stats = mean_std(results).set_index("method")
    assert stats.loc["clip", "ndcg@10"] == pytest.approx(0.3)
    assert stats.loc["clip", "ndcg@10_std"] == pytest.approx(0.1414, abs=1e-4)
    assert gains(results).loc[("gcl", "in_domain"), "ndcg@10"] == pytest.approx(0.45 / 0.3 - 1)


def test_significance_pairs_queries_after_averaging_seeds():
    """Seeds differ per query (gcl's seed 1 is better on even queries, worse on odd ones): the test pairs the
    per-query means over seeds, one pair per query, not one per (query, seed)."""
    rows, expected = [], []
    for q in range(30):
        clip = [0.2 + 0.01 * (q % 5) + 0.02 * seed for seed in (0, 1)]
        gcl = [0.3 + 0.01 * (q % 3) + (0.1 if q % 2 == 0 else -0.06) * seed for seed in (0, 1)]
        expected.append(np.mean(gcl) - np.mean(clip))
        for seed in (0, 1):
            rows.append(
                dict(
                    method="clip",
                    seed=seed,
                    split="in_domain",
                    query_id=str(q),
                    **{"ndcg@10": clip[seed], "err": 0.1, "rbp@0.9": 0.1},
                )
            )
            rows.append(
                dict(
                    method="gcl",
                    seed=seed,
                    split="in_domain",
                    query_id=str(q),
                    **{"ndcg@10": gcl[seed], "err": 0.1, "rbp@0.9": 0.1},
                )
            )
    sig = significance_table(pd.DataFrame(rows)).set_index("metric")
    assert sig.loc["ndcg@10", "n"] == 30
    assert sig.loc["ndcg@10", "diff"] == pytest.approx(np.mean(expected))
    assert sig.loc["ndcg@10", "p_value"] == pytest.approx(stats.ttest_rel(np.array(expected), np.zeros(30)).pvalue)


def test_sweep_gains_is_relative_to_the_baseline_per_strength():
    sweep = pd.DataFrame(
        [
            dict(strength=s, split="in_domain", method=m, seed=0, **{"ndcg@10": v})
            for s, m, v in [(0, "clip", 0.5), (0, "gcl-linear", 0.6), (3, "clip", 0.4), (3, "gcl-linear", 0.3)]
        ]
    )
    table = sweep_gains(sweep)
    assert table.loc[(0, "in_domain"), "gcl-linear"] == pytest.approx(0.2)
    assert table.loc[(3, "in_domain"), "gcl-linear"] == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="'bm25' not in the sweep table"):
        sweep_gains(sweep, baseline="bm25")


@pytest.mark.slow
def test_strength_sweep_regenerates_data_with_the_varied_parameter(tmp_path):
    sweep = strength_sweep(
        tmp_path,
        [0.0],
        preset="smoke",
        methods=["clip", "bm25"],
        vary=["noise_strength"],
        overrides={"steps": 2},
        evaluation=EvalConfig(top_q=10, top_k=20),
    )
    params = json.loads((tmp_path / "strength-0" / "data" / "synthshop.json").read_text())["parameters"]
    assert params["noise_strength"] == 0.0 and params["popularity_strength"] == 1.0
    assert set(sweep["strength"]) == {0.0} and set(sweep["method"]) == {"clip", "bm25"}


def test_results_written_before_eval_config_are_kept_when_the_protocol_is_the_same(tmp_path):
    from gcl_nb.workbench.experiment.outputs import SETTINGS_NAME
    from gcl_nb.workbench.experiment.runner import _start_afresh_if_changed

    config = ExperimentConfig(data=str(tmp_path), out=str(tmp_path), methods=["bm25"], seeds=[0])
    old = {
        "data": str(tmp_path),
        "data_options": {"image_root": None, "on_bad_image": "error", "check_images": "exists"},
        "corpus": "half",
        "preset": "cpu",
        "overrides": {},
        "splits": list(config.evaluation.splits),
        "top_q": 2000,
        "top_k": 1000,
    }
    results = tmp_path / "results.csv"
    for top_q, kept in ((2000, True), (500, False)):
        (tmp_path / SETTINGS_NAME).write_text(json.dumps({**old, "top_q": top_q}))
        results.write_text(",".join(RESULT_COLUMNS) + "\n")  # this version's columns: only the settings decide
        _start_afresh_if_changed(tmp_path, config, [results])
        assert results.exists() == kept, top_q


def _run_rows(method: str, seed: int, value: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = pd.DataFrame(
        [{c: value for c in RESULT_COLUMNS} | {"method": method, "seed": seed, "split": "in_domain", "corpus": "half"}]
    )
    per_query = pd.DataFrame(
        {
            "split": "in_domain",
            "query_id": ["1", "2"],
            "query": ["a", "b"],
            "ndcg@10": [value, value],
            "method": method,
            "seed": seed,
        }
    )
    return results, per_query


def test_a_run_is_recorded_per_query_first_and_an_interrupted_run_leaves_no_torn_or_duplicate_rows(
    tmp_path, monkeypatch
):
    from gcl_nb.workbench.experiment.outputs import PER_QUERY_NAME, RESULTS_NAME, read_table, record_run

    record_run(tmp_path, *_run_rows("clip", 0, 0.5))
    # interrupted while writing results.csv: its per-query rows are in, its results row is not
    calls = []

    def interrupted(self, path_or_buf=None, **kwargs):
        calls.append(path_or_buf)
        if len(calls) == 2:  # the second table written: results.csv
            path_or_buf.write(b"method,seed,spl")  # half a row, then the interrupt
            raise KeyboardInterrupt
        return original(self, path_or_buf, **kwargs)

    original = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        record_run(tmp_path, *_run_rows("gcl-linear", 0, 0.7))
    monkeypatch.setattr(pd.DataFrame, "to_csv", original)
    assert read_table(tmp_path / RESULTS_NAME)["method"].tolist() == ["clip"]  # the previous table, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == [PER_QUERY_NAME, RESULTS_NAME]  # no temporary file left
    # the resumed run records again: its per-query rows replace the interrupted run's, once
    record_run(tmp_path, *_run_rows("gcl-linear", 0, 0.8))
    per_query = read_table(tmp_path / PER_QUERY_NAME)
    assert per_query.groupby("method").size().to_dict() == {"clip": 2, "gcl-linear": 2}
    assert per_query.loc[per_query["method"] == "gcl-linear", "ndcg@10"].tolist() == [0.8, 0.8]
    assert read_table(tmp_path / RESULTS_NAME)["method"].tolist() == ["clip", "gcl-linear"]

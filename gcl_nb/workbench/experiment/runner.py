"""Run an experiment: train (or build) and evaluate every (method, seed) on equal terms, resumably.

Every (method, seed) run writes its run directory under `out/`; its evaluation is appended to the tables in
`out` (gcl_nb.workbench.experiment.outputs) as soon as it finishes, so an interrupted experiment resumes where
it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd
import torch

from gcl_nb.data.atomic_files import atomic_write_json
from gcl_nb.data.options import DataOptions
from gcl_nb.data.schema import SettingError, check_corpus_scope
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.split_evaluation import per_query_table, run_protocol, summary_table
from gcl_nb.losses.weights import get_stw
from gcl_nb.models import build_encoder, load_encoder
from gcl_nb.models.factory import resolve_device
from gcl_nb.retrieval.bm25 import BM25Retriever
from gcl_nb.training import TrainConfig, train
from gcl_nb.workbench.experiment.methods import METHODS, PAPER_METHODS, UNTRAINED_ENCODERS, check_methods
from gcl_nb.workbench.experiment.outputs import (
    PER_QUERY_NAME,
    RESULT_COLUMNS,
    RESULTS_NAME,
    RUN_LOG_NAME,
    SETTINGS_NAME,
    log_run,
    read_table,
    record_run,
)
from gcl_nb.workbench.presets import train_config


@dataclass
class ExperimentConfig:
    """What to compare: methods x seeds on one data set, each trained from `preset` with `overrides` and
    evaluated with `evaluation` (its splits are the splits loaded).

    `data_options` says how to read `data` (image folder, image checks); `corpus` is the evaluation's corpus
    scope ("half" or "split", see gcl_nb.data.load_gs). `device` ("auto": CUDA when present) trains every model
    and evaluates it: the model is loaded there and the search runs there."""

    data: str
    data_options: DataOptions = field(default_factory=DataOptions)
    corpus: str = "half"
    out: str = "runs/experiment"
    preset: str = "cpu"
    methods: list[str] = field(default_factory=lambda: list(PAPER_METHODS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    overrides: dict = field(default_factory=dict)  # TrainConfig fields applied to every trained method
    #: STW name -> its parameters, for every trained method with that STW, e.g. {"reciprocal": {"top": 1000}}
    stw_params: dict = field(default_factory=dict)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    device: str = "auto"
    progress: bool = False  # training's progress bars (the evaluation's are evaluation.progress)

    def __post_init__(self):
        self.data_options = DataOptions.coerce(self.data_options)
        check_corpus_scope(self.corpus)
        resolve_device(self.device)
        check_methods(self.methods)
        check_stw_params(self.stw_params)
        for method in self.methods:  # every training's settings checked before the first one runs
            if method in METHODS:
                for seed in self.seeds:
                    method_train_config(self, method, seed)


def check_stw_params(stw_params) -> None:
    """SettingError unless `stw_params` maps STW names to parameters of that STW, e.g. {'reciprocal': {'top': 1000}}."""
    if not isinstance(stw_params, dict):
        raise SettingError(
            f"stw_params={stw_params!r}: give parameters per STW name, e.g. {{'reciprocal': {{'top': 1000}}}}"
        )
    for stw, params in stw_params.items():
        if not isinstance(params, dict):
            raise SettingError(
                f"stw_params[{stw!r}]={params!r}: give the STW's parameters by name, e.g. "
                "{'reciprocal': {'top': 1000}}"
            )
        try:
            get_stw(stw, **params)
        except (TypeError, ValueError) as err:
            raise SettingError(f"stw_params[{stw!r}]={params!r}: {err}") from None


def method_train_config(config: ExperimentConfig, method: str, seed: int) -> TrainConfig:
    """The TrainConfig of one (method, seed) run: preset, then the experiment's overrides, then the method's, with
    the experiment's `stw_params` of the method's STW."""
    run_config = train_config(
        config.preset,
        **{
            **config.overrides,
            **METHODS[method],
            "data": config.data,
            "data_options": config.data_options,
            "seed": seed,
            "device": config.device,
            "out": str(Path(config.out) / f"{method}-s{seed}"),
            "progress": config.progress,
        },
    )
    if not isinstance(run_config.stw, str) or run_config.stw not in config.stw_params:
        return run_config
    return replace(run_config, stw_params={**config.stw_params[run_config.stw], **run_config.stw_params})


def train_or_build_model(config: ExperimentConfig, method: str, seed: int):
    """Train (or, for untrained methods, build) the model of one run, in eval mode on the experiment's device;
    returns (model, run_dir or None)."""
    if method == "bm25":
        return BM25Retriever(), None
    device = resolve_device(config.device)
    if method in UNTRAINED_ENCODERS:
        torch.manual_seed(seed)
        start = method_train_config(config, UNTRAINED_ENCODERS[method], seed)
        encoder = build_encoder(
            start.encoder_config(), device, cache_dir=start.model_cache_dir, load_weights=method != "random-init"
        )
        return encoder.eval(), None
    run_dir = train(method_train_config(config, method, seed))
    return load_encoder(run_dir, device=device).eval(), run_dir


def run_experiment(
    config: ExperimentConfig, on_result: Optional[Callable[[pd.DataFrame], None]] = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and evaluate every (method, seed); returns (results, per_query) and keeps them in `config.out`.

    Runs already in `out/results.csv` are skipped (resume). `on_result(rows)` is called after each run.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path, per_query_path = out / RESULTS_NAME, out / PER_QUERY_NAME
    _start_afresh_if_changed(out, config, (results_path, per_query_path, out / RUN_LOG_NAME))
    results = read_table(results_path)
    data = config.data_options.load(config.data, splits=config.evaluation.splits, corpus=config.corpus)
    for method in config.methods:
        for seed in config.seeds[:1] if method == "bm25" else config.seeds:  # BM25 has no seed
            if ((results["method"] == method) & (results["seed"] == seed)).any():
                continue
            start = time.perf_counter()
            model, run_dir = train_or_build_model(config, method, seed)
            evaluated = run_protocol(model, data, config.evaluation)
            rows = summary_table(evaluated).assign(method=method, seed=seed)[list(RESULT_COLUMNS)]
            record_run(out, rows, per_query_table(evaluated).assign(method=method, seed=seed))
            results = read_table(results_path)
            log_run(out, method, seed, run_dir, time.perf_counter() - start)
            if on_result is not None:
                on_result(rows)
    return results, read_table(per_query_path)


#: ExperimentConfig fields that change what a (method, seed) run produces; the others only choose which runs.
_IDENTITY = ("data", "data_options", "corpus", "preset", "overrides", "stw_params", "evaluation")
#: EvalConfig fields that only change how the evaluation runs, not its results.
_EVALUATION_MECHANICS = ("batch_size", "cache_dir", "progress")


def _start_afresh_if_changed(out: Path, config: ExperimentConfig, files: Sequence[Path]) -> None:
    """Resume only runs of the same experiment: if `out` holds results made with other data, preset,
    overrides or protocol settings, or a results table with another set of metric columns (written by an older
    version), remove those result files, so they are rebuilt and never mixed (run directories are overwritten
    by train)."""
    saved_path = out / SETTINGS_NAME
    current = json.loads(json.dumps(asdict(config), default=str))
    results = out / RESULTS_NAME
    other_metrics = results.is_file() and list(pd.read_csv(results, nrows=0).columns) != list(RESULT_COLUMNS)
    if saved_path.is_file() or other_metrics:
        saved = json.loads(saved_path.read_text()) if saved_path.is_file() else {}
        if other_metrics or any(_identity(saved, k) != _identity(current, k) for k in _IDENTITY):
            for path in files:
                path.unlink(missing_ok=True)
    atomic_write_json(current, saved_path)  # read back by the next run: never half-written


def _identity(settings: dict, key: str):
    """The part of a settings.json entry that decides what the runs produce."""
    value = settings.get(key)
    if key == "data":
        return str(Path(value or "").resolve())  # one folder, however it is written
    if key == "stw_params":
        return value or {}  # written before stw_params: none
    if key == "evaluation" and value is None and "top_q" in settings:  # written before EvalConfig: same protocol
        value = {
            "splits": settings.get("splits"),
            "top_q": settings["top_q"],
            "top_k": settings.get("top_k"),
            "ground_truth": None,
        }
    if key == "evaluation" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in _EVALUATION_MECHANICS}
    return value

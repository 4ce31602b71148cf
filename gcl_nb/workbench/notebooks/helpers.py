"""The notebooks' data helpers: the data folder they work on, the experiment tables and trained models
notebook 2 leaves in the run directory, the committed result tables, and SynthShop attributes for colouring.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from gcl_nb.data.atomic_files import check_not_partial
from gcl_nb.data.schema import SettingError
from gcl_nb.data.synthshop import make_synthshop
from gcl_nb.evaluation.precomputed import EmbeddingTable
from gcl_nb.evaluation.protocol import grade_scores
from gcl_nb.models import load_encoder
from gcl_nb.viz.model_views import ModelViews
from gcl_nb.workbench.checkout import source_checkout
from gcl_nb.workbench.experiment.methods import check_methods
from gcl_nb.workbench.experiment.outputs import PER_QUERY_NAME, RESULTS_NAME, RUN_LOG_NAME, read_run_log, read_table
from gcl_nb.workbench.presets import effective_preset


def workbench_data(run_dir: str | Path, data_path: str | Path | None = None, preset: str = "cpu",
                   ci: bool = False, seed: int = 0) -> Path:
    """The data folder the notebooks work on: `data_path` when given (a Marqo-GS download, either layout),
    else SynthShop generated into `<run_dir>/data` (the `smoke` preset in CI mode), reused while its preset
    and seed match."""
    if data_path:
        path = Path(data_path)
        check_not_partial(path)
        if not path.is_dir():
            raise SettingError(f"data_path {path}: no such folder; give a Marqo-GS folder or None for SynthShop")
        return path
    root = Path(run_dir) / "data"
    wanted = {"preset": effective_preset(preset, ci), "seed": seed}
    meta_path = root / "synthshop.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted:
            return root
    return make_synthshop(root, wanted["preset"], seed)


#: the comparison notebook 2 runs (gcl_nb.workbench.experiment method names): the start both trainings share,
#: baseline, GCL, text-only baseline
BASELINE, CANDIDATE = "clip", "gcl-linear"
NOTEBOOK_METHODS = ("pretrained", BASELINE, CANDIDATE, "bm25")


def check_notebook_methods(methods: Sequence[str]) -> None:
    """SettingError for an unknown method, or when `methods` lacks one of the two notebooks 3 and 4 compare."""
    check_methods(methods)
    missing = [m for m in (BASELINE, CANDIDATE) if m not in methods]
    if missing:
        raise SettingError(f"methods={list(methods)} lacks {missing}: notebooks 3 and 4 compare {BASELINE} and "
                           f"{CANDIDATE}; add to the list, do not replace them")


def compile_custom_stw(custom_stw: str | None):
    """Notebook 2's `custom_stw`, an expression in the score tensor s, as a function (None without one); a
    SettingError when it does not compile or fails on sample scores."""
    import torch

    if not custom_stw:
        return None
    try:
        my_stw = eval(f"lambda s: {custom_stw}", {"torch": torch})  # the STW as a function of a score tensor
        my_stw(torch.tensor([1.0, 50.0, 100.0]))
    except Exception as error:
        raise SettingError(f"custom_stw={custom_stw!r} is not an expression in the scores s: {error}") from None
    return my_stw


def training_setup(run_dir: str | Path, data_path: str | Path | None, preset: str, ci: bool, seed: int,
                   methods: Sequence[str], custom_stw: str | None) -> dict:
    """Notebook 2's setup from its parameters: checks `methods` keeps the two models notebooks 3 and 4 compare,
    compiles `custom_stw` (so a typo stops the notebook before any training), finds or generates the data and
    prints what the notebook will train on. Returns {data_root, train_preset, my_stw (None without custom_stw)}."""
    import torch

    check_notebook_methods(methods)
    my_stw = compile_custom_stw(custom_stw)
    data_root = workbench_data(run_dir, data_path, preset, ci, seed)
    train_preset = effective_preset(preset, ci)
    device = "cuda (bf16 autocast)" if torch.cuda.is_available() else "cpu"
    print(f"data: {data_root}\ntraining preset: {train_preset}, device: {device}")
    return {"data_root": data_root, "train_preset": train_preset, "my_stw": my_stw}


def load_results(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results, per-query table) notebook 2 wrote (ValueError naming the file when 2 has not run)."""
    run_dir = Path(run_dir)
    tables = []
    for name in (RESULTS_NAME, PER_QUERY_NAME):
        path = run_dir / name
        if not path.is_file():
            raise ValueError(f"{path} not found: run 02_gpu_training.ipynb with run_dir={str(run_dir)!r} first")
        tables.append(read_table(path))
    return tables[0], tables[1]


def trained_runs(run_dir: str | Path, methods: Sequence[str] | None = (BASELINE, CANDIDATE),
                 seed: int = 0) -> dict:
    """{method: run directory} of the trained runs notebook 2 (or `gcl-nb experiment --out run_dir`)
    logged in `<run_dir>/runs.jsonl`: those of `methods`, or every trained method with `methods=None`."""
    log = Path(run_dir) / RUN_LOG_NAME
    if not log.is_file():
        raise ValueError(f"{log} not found: run 02_gpu_training.ipynb with run_dir={str(run_dir)!r} first")
    entries = read_run_log(run_dir)
    trained = entries[(entries["seed"] == seed) & entries["run_dir"].notna()]
    runs = {method: Path(path) for method, path in zip(trained["method"], trained["run_dir"])}
    methods = list(runs) if methods is None else methods
    missing = [m for m in methods if m not in runs]
    if missing or not methods:
        raise ValueError(f"{log}: no trained run of {missing or 'any method'} with seed {seed}; "
                         "rerun 02_gpu_training.ipynb")
    return {m: runs[m] for m in methods}


def load_views(
    run_dir: str | Path,
    data,
    methods: Sequence[str] | None = (BASELINE, CANDIDATE),
    seed: int = 0,
    extra: Mapping[str, str | Sequence[str]] | None = None,
):
    """ModelViews over `data` of the methods trained into `run_dir` (`trained_runs`; None: all of them), and of
    the `extra` models {label: any name load_encoder takes, or [query file, document file] of precomputed
    embeddings (gcl_nb.evaluation.precomputed)}, graded as the evaluation protocol does."""
    if extra is not None and not isinstance(extra, Mapping):
        raise SettingError(f"extra_models={extra!r}: give {{label: model name}}, e.g. {{\"paper\": \"hf-hub:ORG/NAME\"}}")
    models = {m: load_encoder(path).eval() for m, path in trained_runs(run_dir, methods, seed).items()}
    for label, name in (extra or {}).items():
        if label in models:
            raise SettingError(f"extra_models: {label!r} is already a trained method of {run_dir}; use another label")
        is_pair = isinstance(name, (list, tuple))
        models[label] = EmbeddingTable.read(*name) if is_pair and len(name) == 2 else load_encoder(name).eval()
    return ModelViews(models, data)


def committed_result(name: str) -> Path | None:
    """`results/<name>` of the source checkout the package runs from (the committed experiment tables), or None
    where the package runs from no checkout (installed) or the checkout lacks the file."""
    checkout = source_checkout()
    path = checkout / "results" / name if checkout is not None else None
    return path if path is not None and path.is_file() else None


def synthshop_attributes(data_root: str | Path, columns: Sequence[str] = ("category", "colour")):
    """Attributes of SynthShop products and queries as one (kind, id, *columns) table for colouring maps;
    None for data without the SynthShop extras (a real Marqo-GS download)."""
    root = Path(data_root)
    parts = []
    for kind, file, key in (("document", "synthshop_products.csv", "product_id"),
                            ("query", "synthshop_queries.csv", "query_id")):
        if not (root / file).is_file():
            return None
        table = pd.read_csv(root / file, dtype={key: str}, keep_default_na=False)
        parts.append(table[[key, *columns]].rename(columns={key: "id"}).assign(kind=kind))
    return pd.concat(parts, ignore_index=True)

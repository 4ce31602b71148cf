"""CLIP vs GCL on equal terms: the same model, data, steps and seeds for every method, evaluated on all four splits.

    results = run_experiment(ExperimentConfig(data="data/synthshop-cpu", out="runs/exp", seeds=[0, 1, 2]))
    gcl-nb experiment --data data/synthshop-cpu --seeds 0 1 2 --out runs/exp --results results/synthshop_cpu

A method is a named set of TrainConfig overrides (METHODS); three are not trained: `bm25` (titles),
`random-init` (the model before training: the chance level) and `minilm-zeroshot` (the pretrained MiniLM text
tower without fine-tuning; its projection to the embedding size is random). Every (method, seed) run writes its run
directory under `out/`, and its evaluation is appended to `out/results.csv` (method, seed, split, metric
columns) and `out/per_query.csv` as soon as it finishes, so an interrupted experiment resumes where it stopped.
`report()` turns the tables into Markdown: mean +- std over seeds, the gain over the baseline, and a paired
test per split over the per-query values (averaged over seeds) of each method against the baseline.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd

from gcl_nb.data.options import DataOptions
from gcl_nb.data.schema import SPLITS, check_corpus_scope
from gcl_nb.metrics import METRIC_COLUMNS
from gcl_nb.models.multifield import PAPER_RHS_WEIGHTS
from gcl_nb.evaluation.significance import compare, compare_runs
from gcl_nb.training import TrainConfig, train
from gcl_nb.workbench.presets import train_config

#: method name -> TrainConfig overrides. The first four are the paper comparison; the rest are ablations.
METHODS: dict[str, dict] = {
    "clip": {"stw": "constant"},
    "gcl-linear": {"stw": "linear"},
    "gcl-reciprocal": {"stw": "reciprocal"},
    "gcl-multipos": {"stw": "linear", "target": "multipos"},
    # same-query collisions (the presets sample batches of distinct queries): the paper's random batches, where
    # a batch's other rows of the query are negatives, and masking them out of the softmax instead
    "gcl-linear-random-batches": {"stw": "linear", "same_query": "none"},
    "gcl-linear-mask": {"stw": "linear", "same_query": "mask"},
    "clip-multipos": {"stw": "constant", "target": "multipos"},  # multi-positive without grades
    # document fields and their fusion (default: image and title, equal weights)
    "gcl-linear-image-only": {"stw": "linear", "rhs": ["image"]},
    "gcl-linear-title-only": {"stw": "linear", "rhs": ["title"]},
    "gcl-linear-fusion-paper": {"stw": "linear", "rhs_weights": list(PAPER_RHS_WEIGHTS)},
    # the image tower: the first default's vision transformer instead of the small ResNet
    "gcl-linear-vit": {"stw": "linear", "arch": "gcl-tiny"},
    # text only, pretrained MiniLM text tower (the paper's e5 table), fine-tuned at a pretrained model's lr
    "minilm-clip": {"stw": "constant", "text_tower": "minilm", "rhs": ["title"], "lr": 1e-4},
    "minilm-gcl-linear": {"stw": "linear", "text_tower": "minilm", "rhs": ["title"], "lr": 1e-4},
    "minilm-gcl-multipos": {"stw": "linear", "target": "multipos", "text_tower": "minilm", "rhs": ["title"],
                            "lr": 1e-4},
}
#: untrained encoders (evaluated as built: the architecture of the named method) and BM25 over titles
UNTRAINED_ENCODERS = {"random-init": "clip", "minilm-zeroshot": "minilm-clip"}
UNTRAINED = ("bm25", *UNTRAINED_ENCODERS)
PAPER_METHODS = ("clip", "gcl-linear", "gcl-reciprocal", "gcl-multipos")
HEADLINE = ("ndcg@10", "err", "rbp@0.9")
RESULT_COLUMNS = ("method", "seed", "split", *METRIC_COLUMNS, "n_queries", "corpus", "n_docs")


@dataclass
class ExperimentConfig:
    """What to compare: methods x seeds on one data set, each trained from `preset` with `overrides`.

    `data_options` says how to read `data` (image folder, image checks); `corpus` is the evaluation's corpus
    scope ("half" or "split", see gcl_nb.data.load_gs)."""

    data: str
    data_options: DataOptions = field(default_factory=DataOptions)
    corpus: str = "half"
    out: str = "runs/experiment"
    preset: str = "cpu"
    methods: list[str] = field(default_factory=lambda: list(PAPER_METHODS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    splits: list[str] = field(default_factory=lambda: list(SPLITS))
    overrides: dict = field(default_factory=dict)  # TrainConfig fields applied to every trained method
    top_q: int = 2000
    top_k: int = 1000
    device: str = "auto"
    progress: bool = False

    def __post_init__(self):
        self.data_options = DataOptions.coerce(self.data_options)
        check_corpus_scope(self.corpus)
        unknown = [m for m in self.methods if m not in METHODS and m not in UNTRAINED]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}: choose from {', '.join([*METHODS, *UNTRAINED])}")


def run_config(config: ExperimentConfig, method: str, seed: int) -> TrainConfig:
    """The TrainConfig of one (method, seed) run: preset, then the experiment's overrides, then the method's."""
    return train_config(config.preset, **{
        **config.overrides, **METHODS[method], "data": config.data, "data_options": config.data_options,
        "seed": seed, "device": config.device,
        "out": str(Path(config.out) / f"{method}-s{seed}"), "progress": config.progress})


def build_model(config: ExperimentConfig, method: str, seed: int):
    """Train (or, for untrained methods, build) the model of one run; returns (model, run_dir or None)."""
    if method == "bm25":
        from gcl_nb.retrieval.bm25 import BM25Retriever
        return BM25Retriever(), None
    from gcl_nb.models import build_encoder, load_encoder

    if method in UNTRAINED_ENCODERS:
        import torch
        torch.manual_seed(seed)
        encoder_config = run_config(config, UNTRAINED_ENCODERS[method], seed).encoder_config()
        return build_encoder(encoder_config).eval(), None
    run_dir = train(run_config(config, method, seed))
    return load_encoder(run_dir).eval(), run_dir


def run_experiment(config: ExperimentConfig, on_result: Optional[Callable[[pd.DataFrame], None]] = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and evaluate every (method, seed); returns (results, per_query) and keeps them in `config.out`.

    Runs already in `out/results.csv` are skipped (resume). `on_result(rows)` is called after each run.
    """
    from gcl_nb.evaluation.protocol import evaluate

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path, per_query_path = out / "results.csv", out / "per_query.csv"
    _start_afresh_if_changed(out, config, (results_path, per_query_path, out / "runs.jsonl"))
    results = _read(results_path)
    data = config.data_options.load(config.data, splits=config.splits, corpus=config.corpus)
    for method in config.methods:
        for seed in config.seeds[:1] if method == "bm25" else config.seeds:  # BM25 has no seed
            if ((results["method"] == method) & (results["seed"] == seed)).any():
                continue
            start = time.perf_counter()
            model, run_dir = build_model(config, method, seed)
            summary, pq = evaluate(model, data, config.splits, config.top_q, config.top_k,
                                   return_per_query=True, search_device="cpu")
            rows = summary.assign(method=method, seed=seed)[list(RESULT_COLUMNS)]
            rows.to_csv(results_path, mode="a", header=not results_path.exists(), index=False)
            pq.assign(method=method, seed=seed).to_csv(per_query_path, mode="a",
                                                       header=not per_query_path.exists(), index=False)
            results = _read(results_path)
            _log(out, method, seed, run_dir, time.perf_counter() - start)
            if on_result is not None:
                on_result(rows)
    return results, _read(per_query_path)


#: ExperimentConfig fields that change what a (method, seed) run produces; the others only choose which runs.
_IDENTITY = ("data", "data_options", "corpus", "preset", "splits", "overrides", "top_q", "top_k")


def _start_afresh_if_changed(out: Path, config: ExperimentConfig, files: Sequence[Path]) -> None:
    """Resume only runs of the same experiment: if `out` holds results made with other data, preset,
    overrides or protocol settings, remove those result files (run directories are overwritten by train)."""
    saved_path = out / "experiment.json"
    current = json.loads(json.dumps(asdict(config)))
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        if any(saved.get(k) != current[k] for k in _IDENTITY):
            for path in files:
                path.unlink(missing_ok=True)
    saved_path.write_text(json.dumps(current, indent=2))


def _read(path: Path) -> pd.DataFrame:
    """A results / per-query CSV (ids as strings), or an empty results table with RESULT_COLUMNS."""
    if path.exists():
        return pd.read_csv(path, dtype={"query_id": str, "split": str, "method": str})
    return pd.DataFrame({c: pd.Series(dtype=str if c in ("method", "split", "corpus") else float)
                         for c in RESULT_COLUMNS})


def _log(out: Path, method: str, seed: int, run_dir, seconds: float) -> None:
    with open(out / "runs.jsonl", "a") as f:
        f.write(json.dumps({"method": method, "seed": seed, "run_dir": str(run_dir) if run_dir else None,
                            "seconds": round(seconds, 1)}) + "\n")


# ------------------------------------------------------------------------------------ summaries
def mean_std(results: pd.DataFrame, metrics: Sequence[str] = HEADLINE) -> pd.DataFrame:
    """Mean and std over seeds per (method, split): columns `<metric>` and `<metric>_std`."""
    grouped = results.groupby(["method", "split"], sort=False)[list(metrics)]
    means, stds = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    return means.join(stds.add_suffix("_std")).reset_index()


def gains(results: pd.DataFrame, baseline: str = "clip", metrics: Sequence[str] = HEADLINE) -> pd.DataFrame:
    """Relative gain of each method's seed-mean over the baseline's, per split: (m - b) / b."""
    means = results.groupby(["method", "split"], sort=False)[list(metrics)].mean()
    base = means.xs(baseline, level="method")
    return (means - base) / base


def significance(per_query: pd.DataFrame, baseline: str = "clip", metrics: Sequence[str] = HEADLINE,
                 seed: int = 0) -> pd.DataFrame:
    """Paired tests of every method against the baseline per split, on per-query values averaged over seeds.

    The protocol samples the same queries for every model (the sampling depends on the data only), so
    per-query values pair up across methods; averaging over seeds first tests the method, not one run.
    """
    averaged = per_query.groupby(["method", "split", "query_id"], sort=False)[list(metrics)].mean().reset_index()
    base = averaged[averaged["method"] == baseline]
    tables = []
    for method, table in averaged.groupby("method", sort=False):
        if method != baseline:
            tables.append(compare(base, table, metrics, seed=seed).assign(method=method))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def report(results: pd.DataFrame, per_query: pd.DataFrame, baseline: str = "clip",
           metrics: Sequence[str] = HEADLINE, title: str = "GCL vs CLIP", command: str = "",
           notes: str = "") -> str:
    """Markdown: per split, each method's mean +- std over seeds, gain over the baseline and paired p-value."""
    stats = mean_std(results, metrics).set_index(["method", "split"])
    gain = gains(results, baseline, metrics) if baseline in set(results["method"]) else None
    sig = significance(per_query, baseline, metrics) if gain is not None else pd.DataFrame()
    seeds = results.groupby("method")["seed"].nunique()
    lines = [f"# {title}", ""]
    if command:
        lines += ["Produced by:", "", "```bash", command, "```", ""]
    if notes:
        lines += [notes, ""]
    lines += [f"Mean +- std over seeds (seeds per method: {', '.join(f'{m} {n}' for m, n in seeds.items())}); "
              f"gain = relative to `{baseline}`; p = paired t-test over the split's sampled queries "
              "(per-query values averaged over seeds), with the bootstrap 95% CI of the NDCG@10 difference: "
              "it holds the trained models fixed. p (runs) takes each training run as one observation "
              "(exact permutation test over the runs' split means; 0.1 is the smallest possible with 3 + 3 "
              "runs; blank with a single run): it asks whether retraining with new seeds would keep the difference.", ""]
    methods = list(dict.fromkeys(results["method"]))
    for split in [s for s in SPLITS if s in set(results["split"])]:
        lines += [f"## {split}", "",
                  "| method | " + " | ".join(metrics) + " | " + " | ".join(f"gain {m}" for m in metrics)
                  + " | p (ndcg@10) | 95% CI diff ndcg@10 | p (runs, ndcg@10) |",
                  "|---" * (2 * len(metrics) + 4) + "|"]
        for method in methods:
            if (method, split) not in stats.index:
                continue
            row = stats.loc[(method, split)]
            cells = [f"{row[m]:.4f} +- {row[m + '_std']:.4f}" for m in metrics]
            if gain is not None and method != baseline:
                cells += [f"{gain.loc[(method, split), m]:+.1%}" for m in metrics]
                hit = sig[(sig["method"] == method) & (sig["split"] == split) & (sig["metric"] == metrics[0])]
                cells += [f"{hit['p_value'].iloc[0]:.2g}" if len(hit) else "",
                          f"[{hit['ci_low'].iloc[0]:+.4f}, {hit['ci_high'].iloc[0]:+.4f}]" if len(hit) else ""]
                split_runs = results[results["split"] == split]
                runs = compare_runs(split_runs, baseline, method, metrics[:1]).iloc[0]
                cells.append(f"{runs['p_permutation']:.2g}" if min(runs["runs_a"], runs["runs_b"]) > 1 else "")
            else:
                cells += [""] * (len(metrics) + 3)
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def loss_table(run_dirs: dict[str, Path], fractions: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 1.0)) -> pd.DataFrame:
    """Mean training loss over the window ending at each fraction of training (10% of steps wide), per run.

    A flat tail (the last columns close together) shows the budget was long enough.
    """
    rows = {}
    for name, run_dir in run_dirs.items():
        history = pd.read_json(Path(run_dir) / "history.jsonl", lines=True)
        n = len(history)
        width = max(1, n // 10)
        rows[name] = {f"{int(f * 100)}%": history["loss"].iloc[max(0, int(f * n) - width):max(1, int(f * n))].mean()
                      for f in fractions}
    return pd.DataFrame.from_dict(rows, orient="index")


def loss_report(out: Path) -> str:
    """Markdown loss_table of the trained runs logged in `out/runs.jsonl` (the latest run per method and seed)."""
    log = pd.read_json(out / "runs.jsonl", lines=True).dropna(subset=["run_dir"])
    latest = log.drop_duplicates(["method", "seed"], keep="last")
    table = loss_table({f"{m}-s{s}": Path(d) for m, s, d in zip(latest["method"], latest["seed"], latest["run_dir"])})
    return ("## Training loss\n\nMean loss over the 10% of steps ending at each point of training; a small change "
            "between the last columns means the curve has flattened.\n\n" + table.to_markdown(floatfmt=".3f") + "\n")


# ------------------------------------------------------------------------------------ when does GCL help?
def strength_sweep(out: str | Path, strengths: Sequence[float], preset: str = "cpu",
                   methods: Sequence[str] = ("clip", "gcl-linear", "gcl-multipos"), seeds: Sequence[int] = (0,),
                   data_seed: int = 0, vary: Sequence[str] = ("noise_strength",), **experiment_options
                   ) -> pd.DataFrame:
    """Regenerate SynthShop with each generator parameter in `vary` set to s, for each s; run the experiment.

    Returns the results table with a `strength` column. Within a match level the engine orders products by
    popularity_strength * z(popularity) + noise_strength * N(0, 1): varying the noise alone (the default)
    moves that order from one shared per-product preference (noise 0) to per-query noise the fields cannot
    show. Scaling both parameters together leaves the order unchanged for every s > 0.
    """
    from gcl_nb.data import make_synthshop

    tables = []
    for s in strengths:
        root = Path(out) / f"strength-{s:g}"
        data = make_synthshop(root / "data", preset=preset, seed=data_seed, **{name: s for name in vary})
        config = ExperimentConfig(data=str(data), out=str(root / "runs"), preset=preset, methods=list(methods),
                                  seeds=list(seeds), **experiment_options)
        results, _ = run_experiment(config)
        tables.append(results.assign(strength=s))
    return pd.concat(tables, ignore_index=True)


def sweep_gains(sweep: pd.DataFrame, baseline: str = "clip", metric: str = "ndcg@10") -> pd.DataFrame:
    """Relative gain over the baseline per (strength, split, method) from a strength_sweep table."""
    means = sweep.groupby(["strength", "split", "method"])[metric].mean().unstack("method")
    return means.drop(columns=baseline).sub(means[baseline], axis=0).div(means[baseline], axis=0)

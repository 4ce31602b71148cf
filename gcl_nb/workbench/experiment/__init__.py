"""CLIP vs GCL on equal terms: the same model, data, steps and seeds for every method, evaluated on all four splits.

    results = run_experiment(ExperimentConfig(data="data/synthshop-cpu", out="runs/exp", seeds=[0, 1, 2]))
    gcl-nb experiment --data data/synthshop-cpu --seeds 0 1 2 --out runs/exp --results results/synthshop_cpu

A method is a named set of TrainConfig overrides (`methods`: METHODS); three are not trained: `bm25` (titles),
`random-init` (the model before training: the chance level) and `minilm-zeroshot` (the pretrained MiniLM text
tower without fine-tuning; its projection to the embedding size is random). `runner` trains and evaluates every
(method, seed) and appends the evaluation to `out/results.csv` (method, seed, split, metric columns) and
`out/per_query.csv` (`outputs`: the files of `out` and their readers), so an interrupted experiment resumes.
`report` turns the tables into Markdown: mean +- std over seeds, the gain over the baseline, and a paired test
per split over the per-query values (averaged over seeds) of each method against the baseline. `sweeps`
reruns the experiment over regenerated SynthShop data.
"""

from gcl_nb.metrics import HEADLINE_METRICS, OFFICIAL_METRICS
from gcl_nb.workbench.experiment.methods import METHODS, PAPER_METHODS, UNTRAINED, UNTRAINED_ENCODERS
from gcl_nb.workbench.experiment.outputs import RESULT_COLUMNS, read_run_log
from gcl_nb.workbench.experiment.reporting import (
    gains,
    loss_report,
    loss_table,
    mean_std,
    report,
    significance_table,
    write_result_files,
)
from gcl_nb.workbench.experiment.runner import (
    ExperimentConfig,
    method_train_config,
    run_experiment,
    train_or_build_model,
)
from gcl_nb.workbench.experiment.sweeps import strength_sweep, sweep_gains

__all__ = [
    "METHODS",
    "UNTRAINED_ENCODERS",
    "UNTRAINED",
    "PAPER_METHODS",
    "RESULT_COLUMNS",
    "read_run_log",
    "ExperimentConfig",
    "method_train_config",
    "train_or_build_model",
    "run_experiment",
    "HEADLINE_METRICS",
    "OFFICIAL_METRICS",
    "mean_std",
    "gains",
    "significance_table",
    "report",
    "loss_table",
    "loss_report",
    "write_result_files",
    "strength_sweep",
    "sweep_gains",
]

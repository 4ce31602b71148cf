"""The experiment's report: mean +- std over seeds, the gain over the baseline, paired tests per split over the
per-query values (averaged over seeds) of each method against the baseline, and the training-loss table."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from gcl_nb.data.schema import protocol_order
from gcl_nb.evaluation.significance import compare, compare_runs
from gcl_nb.metrics import HEADLINE_METRICS
from gcl_nb.training.run_dir import read_history
from gcl_nb.workbench.experiment.outputs import read_run_log


def mean_std(results: pd.DataFrame, metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """Mean and std over seeds per (method, split): columns `<metric>` and `<metric>_std`."""
    grouped = results.groupby(["method", "split"], sort=False)[list(metrics)]
    means, stds = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    return means.join(stds.add_suffix("_std")).reset_index()


def gains(results: pd.DataFrame, baseline: str = "clip", metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """Relative gain of each method's seed-mean over the baseline's, per split: (m - b) / b."""
    means = results.groupby(["method", "split"], sort=False)[list(metrics)].mean()
    base = means.xs(baseline, level="method")
    return (means - base) / base


def significance_table(
    per_query: pd.DataFrame, baseline: str = "clip", metrics: Sequence[str] = HEADLINE_METRICS, seed: int = 0
) -> pd.DataFrame:
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


def report(
    results: pd.DataFrame,
    per_query: pd.DataFrame,
    baseline: str = "clip",
    metrics: Sequence[str] = HEADLINE_METRICS,
    title: str = "GCL vs CLIP",
    command: str = "",
    notes: str = "",
) -> str:
    """Markdown: per split, each method's mean +- std over seeds, gain over the baseline and paired p-value."""
    stats = mean_std(results, metrics).set_index(["method", "split"])
    gain = gains(results, baseline, metrics) if baseline in set(results["method"]) else None
    sig = significance_table(per_query, baseline, metrics) if gain is not None else pd.DataFrame()
    seeds = results.groupby("method")["seed"].nunique()
    lines = [f"# {title}", ""]
    if command:
        lines += ["Produced by:", "", "```bash", command, "```", ""]
    if notes:
        lines += [notes, ""]
    lines += [
        f"Mean +- std over seeds (seeds per method: {', '.join(f'{m} {n}' for m, n in seeds.items())}); "
        f"gain = relative to `{baseline}`; p = paired t-test over the split's sampled queries "
        "(per-query values averaged over seeds), with the bootstrap 95% CI of the NDCG@10 difference: "
        "it holds the trained models fixed. p (runs) takes each training run as one observation "
        "(exact permutation test over the runs' split means; 0.1 is the smallest possible with 3 + 3 "
        "runs; blank with a single run): it asks whether retraining with new seeds would keep the "
        "difference.",
        "",
    ]
    methods = list(dict.fromkeys(results["method"]))
    for split in protocol_order(results["split"], others=False):
        lines += [
            f"## {split}",
            "",
            "| method | "
            + " | ".join(metrics)
            + " | "
            + " | ".join(f"gain {m}" for m in metrics)
            + " | p (ndcg@10) | 95% CI diff ndcg@10 | p (runs, ndcg@10) |",
            "|---" * (2 * len(metrics) + 4) + "|",
        ]
        for method in methods:
            if (method, split) not in stats.index:
                continue
            row = stats.loc[(method, split)]
            cells = [f"{row[m]:.4f} +- {row[m + '_std']:.4f}" for m in metrics]
            if gain is not None and method != baseline:
                cells += [f"{gain.loc[(method, split), m]:+.1%}" for m in metrics]
                hit = sig[(sig["method"] == method) & (sig["split"] == split) & (sig["metric"] == metrics[0])]
                cells += [
                    f"{hit['p_value'].iloc[0]:.2g}" if len(hit) else "",
                    f"[{hit['ci_low'].iloc[0]:+.4f}, {hit['ci_high'].iloc[0]:+.4f}]" if len(hit) else "",
                ]
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
        history = read_history(run_dir)
        n = len(history)
        width = max(1, n // 10)
        rows[name] = {
            f"{int(f * 100)}%": history["loss"].iloc[max(0, int(f * n) - width) : max(1, int(f * n))].mean()
            for f in fractions
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def loss_report(out: Path) -> str:
    """Markdown loss_table of the trained runs logged in `out/runs.jsonl` (the latest run per method and seed)."""
    log = read_run_log(out).dropna(subset=["run_dir"])
    latest = log.drop_duplicates(["method", "seed"], keep="last")
    table = loss_table({f"{m}-s{s}": Path(d) for m, s, d in zip(latest["method"], latest["seed"], latest["run_dir"])})
    return (
        "## Training loss\n\nMean loss over the 10% of steps ending at each point of training; a small change "
        "between the last columns means the curve has flattened.\n\n" + table.to_markdown(floatfmt=".3f") + "\n"
    )


def write_result_files(prefix: str | Path, table: pd.DataFrame, title: str, command: str, body: str) -> None:
    """A committed result: <prefix>.csv (the rows) and <prefix>.md (the title, the command that made it, `body`)."""
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(f"{prefix}.csv", index=False)
    Path(f"{prefix}.md").write_text(f"# {title}\n\nProduced by:\n\n```bash\n{command}\n```\n\n{body}\n")

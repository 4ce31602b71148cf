"""When does GCL help? Sweep a SynthShop generator parameter, run the experiment at each value, and tabulate
the gain over the baseline against it."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from gcl_nb.data import make_synthshop
from gcl_nb.workbench.experiment.runner import ExperimentConfig, run_experiment


def strength_sweep(
    out: str | Path,
    strengths: Sequence[float],
    preset: str = "cpu",
    methods: Sequence[str] = ("clip", "gcl-linear", "gcl-multipos"),
    seeds: Sequence[int] = (0,),
    data_seed: int = 0,
    vary: Sequence[str] = ("noise_strength",),
    **experiment_options,
) -> pd.DataFrame:
    """Regenerate SynthShop with each generator parameter in `vary` set to s, for each s; run the experiment.

    Returns the results table with a `strength` column. Within a match level the engine orders products by
    popularity_strength * z(popularity) + noise_strength * N(0, 1): varying the noise alone (the default)
    moves that order from one shared per-product preference (noise 0) to per-query noise the fields cannot
    show. Scaling both parameters together leaves the order unchanged for every s > 0.
    """
    tables = []
    for s in strengths:
        root = Path(out) / f"strength-{s:g}"
        data = make_synthshop(root / "data", preset=preset, seed=data_seed, **{name: s for name in vary})
        config = ExperimentConfig(
            data=str(data),
            out=str(root / "runs"),
            preset=preset,
            methods=list(methods),
            seeds=list(seeds),
            **experiment_options,
        )
        results, _ = run_experiment(config)
        tables.append(results.assign(strength=s))
    return pd.concat(tables, ignore_index=True)


def sweep_gains(sweep: pd.DataFrame, baseline: str = "clip", metric: str = "ndcg@10") -> pd.DataFrame:
    """Relative gain over the baseline per (strength, split, method) from a strength_sweep table: indexed by
    (strength, split), one column per other method (ValueError when a column or the baseline is missing)."""
    missing = [c for c in ("method", "split", "strength", metric) if c not in sweep.columns]
    if missing:
        raise ValueError(f"sweep table: missing columns {missing}; got {list(sweep.columns)}")
    if baseline not in set(sweep["method"]):
        raise ValueError(f"method {baseline!r} not in the sweep table; methods present: {sorted(set(sweep['method']))}")
    means = sweep.groupby(["strength", "split", "method"])[metric].mean().unstack("method")
    return means.drop(columns=baseline).sub(means[baseline], axis=0).div(means[baseline], axis=0)

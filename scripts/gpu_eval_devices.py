"""Does evaluating on a GPU give the CPU's numbers? One trained model evaluated twice with the same EvalConfig:
loaded on the CPU, and loaded on CUDA (the search then runs on CUDA too, gcl_nb.evaluation.config), after
training has turned TF32 on in the same process. Writes <out>/eval_devices.{json,csv}: the metric means per
split and device, the largest per-query difference of each metric, the share of queries whose top 10 is the same
list, and the wall time of each evaluation. Then the experiment runner with device="cuda" (one short training),
whose evaluation must run on CUDA as well.

    python scripts/gpu_eval_devices.py --out $OUT [--preset cpu] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gcl_nb.data import load_gs, make_synthshop
from gcl_nb.evaluation import EvalConfig, per_query_table, run_protocol, summary_table
from gcl_nb.metrics import METRIC_COLUMNS
from gcl_nb.models import load_encoder
from gcl_nb.training import train
from gcl_nb.workbench.experiment import ExperimentConfig, run_experiment
from gcl_nb.workbench.presets import train_config


def evaluated(model, data, config: EvalConfig):
    """(run_protocol's results, seconds)."""
    start = time.perf_counter()
    results = run_protocol(model, data, config)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return results, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", default="cpu", help="SynthShop and training preset")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cuda", help="the device compared with the CPU (cpu: a dry run)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check compares CPU and CUDA evaluation")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/gpu_eval_devices")
    data_root = make_synthshop(work / "data", preset=args.preset)
    run_dir = train(
        train_config(
            args.preset,
            data=str(data_root),
            out=str(work / "run"),
            steps=args.steps,
            device=args.device,
            progress=False,
        )
    )
    data, config = load_gs(data_root), EvalConfig()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    report = {
        "torch": torch.__version__,
        "gpu": gpu,
        "preset": args.preset,
        "steps": args.steps,
        "tf32_after_training": torch.backends.cuda.matmul.allow_tf32,
    }
    tables, per_query, top10 = [], {}, {}
    for device in ("cpu", args.device):
        results, seconds = evaluated(load_encoder(run_dir, device=device).eval(), data, config)
        tables.append(summary_table(results).assign(device=device, seconds=seconds))
        per_query[device] = per_query_table(results).set_index(["split", "query_id"])
        top10[device] = {(r.split, q): tuple(r.doc_index[i, :10]) for r in results for i, q in enumerate(r.query_ids)}
        report[f"{device}_seconds"] = round(seconds, 2)
    diff = (per_query[args.device][list(METRIC_COLUMNS)] - per_query["cpu"][list(METRIC_COLUMNS)]).abs()
    report["max_per_query_difference"] = {m: float(diff[m].max()) for m in METRIC_COLUMNS}
    report["queries"] = len(diff)
    report["same_top10_share"] = float(np.mean([top10["cpu"][key] == top10[args.device][key] for key in top10["cpu"]]))
    table = pd.concat(tables, ignore_index=True)
    report["max_mean_difference"] = {
        m: float(table.groupby("split")[m].agg(lambda v: v.max() - v.min()).max()) for m in METRIC_COLUMNS
    }
    # the experiment runner on CUDA: trained and evaluated there
    experiment = ExperimentConfig(
        data=str(data_root),
        out=str(work / "experiment"),
        preset=args.preset,
        methods=["gcl-linear"],
        seeds=[0],
        overrides={"steps": args.steps},
        device=args.device,
    )
    start = time.perf_counter()
    results, _ = run_experiment(experiment)
    report["experiment_seconds"] = round(time.perf_counter() - start, 2)
    report["experiment_ndcg@10"] = results.set_index("split")["ndcg@10"].round(4).to_dict()
    report["direct_ndcg@10"] = tables[1].set_index("split")["ndcg@10"].round(4).to_dict()
    table.to_csv(out / "eval_devices.csv", index=False)
    (out / "eval_devices.json").write_text(json.dumps(report, indent=2))
    print(table.round(4).to_string(index=False))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Loss: GCLLoss vs open_clip's ClipLoss, forward + backward on the same embeddings.

Workload per batch size N: L2-normalised (N, 512) query and document embeddings (leaf tensors with
gradients), a learnable log logit scale, integer scores 1..100. GCL uses the linear STW rescaled to batch
mean 1 (the training default). The multi-positive row builds the (N, N) target matrix with PairLookup
inside every call (4 rows per query in the batch), as training does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from benchmarks.harness import Report, Target, fmt_time, interleaved
from gcl_nb.data.torch_data import PairLookup
from gcl_nb.loss import GCLLoss

DIM = 512
ROWS_PER_QUERY = 4


def _inputs(n: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(n, DIM, generator=gen), dim=1).requires_grad_()
    d = F.normalize(torch.randn(n, DIM, generator=gen), dim=1).requires_grad_()
    log_scale = torch.tensor(np.log(1 / 0.07), dtype=torch.float32, requires_grad=True)
    scores = torch.randint(1, 101, (n,), generator=gen).float()
    codes = torch.arange(n)
    return {"q": q, "d": d, "log_scale": log_scale, "scores": scores,
            "query_codes": codes // ROWS_PER_QUERY, "doc_codes": codes}


def _lookup(x: dict) -> PairLookup:
    """A pair table holding exactly the batch's (query, document) pairs with their scores."""
    pairs = pd.DataFrame({"query": [f"q{c}" for c in x["query_codes"].tolist()],
                          "product_id": [f"p{c}" for c in x["doc_codes"].tolist()],
                          "score_linear": x["scores"].numpy()})
    return PairLookup(pairs)


def _fwd_bwd(x: dict, loss_of):
    def call():
        for t in (x["q"], x["d"], x["log_scale"]):
            t.grad = None
        loss_of(x["q"], x["d"], x["log_scale"].exp()).backward()
    return call


def run(report: Report, quick: bool) -> None:
    sizes, budget = ((32, 64), 0.2) if quick else ((256, 1024, 4096), 8.0)
    clip = ClipLoss()
    for n in sizes:
        x = _inputs(n, seed=n)
        gcl = GCLLoss("linear", stw_options={"rescale": "mean"})
        multipos = GCLLoss("linear", stw_options={"rescale": "mean"}, target="multipos", lookup=_lookup(x))
        t = interleaved({
            "clip": _fwd_bwd(x, lambda q, d, s: clip(d, q, s)),
            "gcl": _fwd_bwd(x, lambda q, d, s: gcl(q, d, s, x["scores"])),
            "multipos": _fwd_bwd(x, lambda q, d, s: multipos(q, d, s, x["scores"], x["query_codes"],
                                                             x["doc_codes"])),
        }, budget_s=budget, min_repeats=3 if quick else 5)
        work = f"N={n}, d={DIM}, fwd+bwd, median of {t['gcl'].repeats}"
        clip_s = t["clip"].median
        report.row("loss", "GCLLoss (diagonal) / ClipLoss time", work,
                   f"{fmt_time(t['gcl'].median)} vs {fmt_time(clip_s)}", t["gcl"].median / clip_s,
                   Target("<=", 1.05))
        report.row("loss", "GCLLoss multi-positive (N,N) / ClipLoss time", work,
                   f"{fmt_time(t['multipos'].median)} vs {fmt_time(clip_s)}", t["multipos"].median / clip_s)
    report.note("loss", "Candidates alternate round by round in one process. ClipLoss (world size 1) computes "
                "both logit matrices (two N x N products); gcl_loss computes one and uses its transpose. "
                "The multi-positive row includes the PairLookup target build (CPU searchsorted) in every call.")

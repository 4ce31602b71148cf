"""Score-to-weight (STW) functions: map each training pair's ranking score s to a loss weight w.

The GCL loss weights pair i's contrastive term by w_i = STW(s_i). Presets (docs/METHOD.md "Score-to-weight
functions"):

- `constant`:   w = 1                       (every pair counts the same: the CLIP baseline)
- `linear`:     w = a * s + b               (default a = 1, b = 0: the score itself, e.g. score_linear)
- `reciprocal`: w = 1 / (top + 1 - s)       (1 / position for a linear score s = top + 1 - position;
                                             top = 100 as in Marqo-GS score_linear)

Any callable `Tensor -> Tensor` works too. An optional rescaling runs on the weights of the scores passed
in one call (one batch, or the nonzero entries of a batch's target matrix):

- `"range"`: w' = w_min + (1 - w_min) * (w - min w) / (max w - min w)   (into [w_min, 1]; all 1 if constant)
- `"mean"`:  w' = w / mean(w)                                            (batch mean 1)

References:
    - T. Zhu, M. C. Jung, J. Clark. Generalized Contrastive Learning for Multi-Modal Retrieval and Ranking.
      arXiv:2404.08535 (the presets constant, linear and reciprocal; the rescalings are the project's).
    - docs/METHOD.md "Score-to-weight functions".
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Union

import torch
from torch import Tensor

STW = Callable[[Tensor], Tensor]


def constant(scores: Tensor) -> Tensor:
    """w = 1 for every pair (CLIP's InfoNCE)."""
    return torch.ones_like(scores, dtype=torch.float32)


def linear(scores: Tensor, scale: float = 1.0, offset: float = 0.0) -> Tensor:
    """w = scale * s + offset."""
    return scores.float() * scale + offset


def reciprocal(scores: Tensor, top: float = 100.0) -> Tensor:
    """w = 1 / (top + 1 - s): the reciprocal of the position a linear score stands for (s <= top)."""
    scores = scores.float()
    if scores.numel() and scores.max() > top:
        raise ValueError(
            f"reciprocal STW: score {scores.max().item():g} exceeds top={top:g}; "
            "pass top=<the highest possible score> (e.g. get_stw('reciprocal', top=...))"
        )
    return 1.0 / (top + 1.0 - scores)


def rescale_range(weights: Tensor, w_min: float = 0.1) -> Tensor:
    """w' = w_min + (1 - w_min) * (w - min w) / (max w - min w), all ones when the weights are constant."""
    lo, hi = weights.min(), weights.max()
    if hi == lo:
        return torch.ones_like(weights)
    return w_min + (1.0 - w_min) * (weights - lo) / (hi - lo)


def rescale_mean(weights: Tensor) -> Tensor:
    """w' = w / mean(w): the weights average to 1."""
    return weights / weights.mean()


STW_FUNCTIONS: dict[str, Callable[..., Tensor]] = {
    "constant": constant,
    "linear": linear,
    "reciprocal": reciprocal,
}
RESCALINGS = (None, "range", "mean")


def get_stw(
    stw: Union[str, STW] = "constant",
    rescale: str | None = None,
    w_min: float = 0.1,
    **params: float,
) -> STW:
    """Resolve an STW preset name (with its `params`, e.g. scale/offset/top) or a callable, plus rescaling.

    The returned function maps a float tensor of scores to non-negative weights of the same shape.
    """
    if callable(stw):
        if params:
            raise ValueError(f"STW parameters {sorted(params)} only apply to the named presets")
        base = stw
    elif stw in STW_FUNCTIONS:
        base = partial(STW_FUNCTIONS[stw], **params)
    else:
        raise ValueError(f"unknown STW {stw!r}: choose one of {', '.join(STW_FUNCTIONS)} or pass a callable")
    if rescale not in RESCALINGS:
        raise ValueError(f"unknown STW rescaling {rescale!r}: choose one of {RESCALINGS}")
    if rescale == "range" and not 0.0 <= w_min <= 1.0:
        raise ValueError(f"w_min must lie in [0, 1], got {w_min}")

    def weights_of(scores: Tensor) -> Tensor:
        weights = base(scores)
        if weights.numel() and weights.min() < 0:
            raise ValueError(f"STW {stw!r} gave a negative weight ({weights.min().item():g}); weights must be >= 0")
        if rescale == "range":
            weights = rescale_range(weights, w_min)
        elif rescale == "mean":
            weights = rescale_mean(weights)
        return weights

    return weights_of

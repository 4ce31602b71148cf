"""Score-to-weight (STW) functions: map each training pair's ranking score s to a loss weight w.

The GCL loss weights pair i's contrastive term by w_i = STW(s_i). The named STWs are the functions below, each
with its formula, registered in `STW_PRESETS` (name -> function, its parameters' defaults, a one-line
description): the CLI choices, the help texts and docs/METHOD.md's table "Score-to-weight functions" (checked by
a test) come from that registry. Any elementwise callable `Tensor -> Tensor` works too; `get_stw` resolves either
and checks w >= 0.

The STW is elementwise (one pair at a time). Rescaling is a separate, per-batch step, `get_rescaling`: it runs
on the weights of one batch (the batch's pairs, or the entries of its target matrix that are pairs of the
training table, `mask`), and GCLLoss applies it after the STW (its `rescale=`, `w_min=`):

- None:      w' = w                                                      (no rescaling)
- `"range"`: w' = w_min + (1 - w_min) * (w - min w) / (max w - min w)   (into [w_min, 1]; all 1 if constant)
- `"mean"`:  w' = w / mean(w)                                            (batch mean 1)

The rescalings use tensor operations only (no Python branch on a value), so on a GPU they never wait for it.

References:
    - T. Zhu, M. C. Jung, J. Clark. Generalized Contrastive Learning for Multi-Modal Retrieval and Ranking.
      arXiv:2404.08535 (the presets constant, linear and reciprocal; the rescalings are the project's).
    - docs/METHOD.md "Score-to-weight functions".
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Union

import torch
from torch import Tensor

STW = Callable[[Tensor], Tensor]
# a batch rescaling: f(weights, *, mask=None) -> weights (see get_rescaling)
Rescaling = Callable[..., Tensor]


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


def _no_training_defaults(scores: Tensor) -> dict[str, float]:
    return {}


def _top_of_training_scores(scores: Tensor) -> dict[str, float]:
    """reciprocal's top for a training table: the largest of 100 (Marqo-GS score_linear) and its scores."""
    return {"top": max(100.0, float(scores.max()))}


@dataclass(frozen=True)
class STWPreset:
    """A named STW: `function(scores, **parameters)` gives one weight per score and raises ValueError on a score
    it cannot weight; its keyword defaults are the parameters' defaults. `training_defaults(scores)` gives the
    defaults a training run takes from its whole table of scores (parameters it is given win)."""

    function: Callable[..., Tensor]
    description: str
    training_defaults: Callable[[Tensor], dict[str, float]] = _no_training_defaults

    @property
    def parameters(self) -> dict[str, float]:
        """Parameter name -> default (the function's keyword parameters after the scores)."""
        return {name: p.default for name, p in list(inspect.signature(self.function).parameters.items())[1:]}


#: every named STW: the one list (docs/METHOD.md "Score-to-weight functions" is checked against it)
STW_PRESETS: dict[str, STWPreset] = {
    "constant": STWPreset(constant, "every pair counts the same: the CLIP baseline"),
    "linear": STWPreset(linear, "by default the score itself; on score_linear that is 101 - position"),
    "reciprocal": STWPreset(
        reciprocal,
        "1 / position for a linear score s = top + 1 - position; a score above top is an error; training's "
        "top defaults to the largest of 100 and the training scores",
        training_defaults=_top_of_training_scores,
    ),
}


def describe_stws() -> str:
    """The named STWs for a help text: `name (parameter=default, ...): description; ...`."""
    return "; ".join(
        f"{name} ({', '.join(f'{p}={d:g}' for p, d in preset.parameters.items()) or 'no parameters'}): "
        f"{preset.description}"
        for name, preset in STW_PRESETS.items()
    )


def rescale_range(weights: Tensor, w_min: float = 0.1, *, mask: Tensor | None = None) -> Tensor:
    """w' = w_min + (1 - w_min) * (w - min w) / (max w - min w), all ones when the weights are constant.

    With a boolean `mask`, min and max run over the entries where it is True and the others come back 0."""
    lo = (weights if mask is None else weights.masked_fill(~mask, math.inf)).amin()
    hi = (weights if mask is None else weights.masked_fill(~mask, -math.inf)).amax()
    scaled = torch.where(hi > lo, w_min + (1.0 - w_min) * (weights - lo) / (hi - lo), 1.0)
    return scaled if mask is None else scaled.masked_fill(~mask, 0.0)


def rescale_mean(weights: Tensor, *, mask: Tensor | None = None) -> Tensor:
    """w' = w / mean(w): the weights average to 1 (over the entries where `mask` is True; the others give 0)."""
    if mask is None:
        return weights / weights.mean()
    kept = weights.masked_fill(~mask, 0.0)
    return kept * (torch.count_nonzero(mask) / kept.sum())


def keep_weights(weights: Tensor, *, mask: Tensor | None = None) -> Tensor:
    """No rescaling (entries off `mask` give 0)."""
    return weights if mask is None else weights.masked_fill(~mask, 0.0)


RESCALINGS = (None, "range", "mean")


def get_rescaling(rescale: str | None = None, w_min: float = 0.1) -> Rescaling:
    """The batch rescaling named by `rescale` (None, "range" or "mean"; module docstring), as
    `f(weights, *, mask=None) -> weights`: over the entries where the boolean `mask` is True (all without one),
    the others coming back 0. `w_min` is the lower end of "range" (in [0, 1]; ignored by the others)."""
    if rescale not in RESCALINGS:
        raise ValueError(f"unknown STW rescaling {rescale!r}: choose one of {RESCALINGS}")
    if rescale == "range":
        if not 0.0 <= w_min <= 1.0:
            raise ValueError(f"w_min must lie in [0, 1], got {w_min}")
        return partial(rescale_range, w_min=w_min)
    if rescale == "mean":
        return rescale_mean
    return keep_weights


def get_stw(stw: Union[str, STW] = "constant", **params: float) -> STW:
    """The elementwise STW named by a preset `stw` (with its `params`, e.g. scale/offset/top) or a callable.

    The returned function maps a float tensor of scores to weights of the same shape, one per score, and raises
    ValueError on a negative weight. It does not rescale: a batch's weights go through `get_rescaling`.
    """
    if callable(stw):
        if params:
            raise ValueError(f"STW parameters {sorted(params)} only apply to the named presets")
        base = stw
    elif stw in STW_PRESETS:
        accepted = list(STW_PRESETS[stw].parameters)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ValueError(
                f"STW {stw!r} has no parameter {', '.join(unknown)} (its parameters: "
                f"{', '.join(accepted) or 'none'}); a batch's rescaling is get_rescaling's, "
                "GCLLoss(rescale=, w_min=)"
            )
        base = partial(STW_PRESETS[stw].function, **params)
    else:
        raise ValueError(f"unknown STW {stw!r}: choose one of {', '.join(STW_PRESETS)} or pass a callable")

    def weights_of(scores: Tensor) -> Tensor:
        weights = base(scores)
        if weights.numel() and weights.min() < 0:
            raise ValueError(f"STW {stw!r} gave a negative weight ({weights.min().item():g}); weights must be >= 0")
        return weights

    return weights_of

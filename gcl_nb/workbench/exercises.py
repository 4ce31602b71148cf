"""Checks for the notebooks' exercises: each prints a one-line verdict and records it in `VERDICTS`.

Every exercise asks for a prediction first; its answer sits in a collapsed "Answer" block below the check cell.
An answer left at `None` is "not attempted": the check says so without giving the answer away (so a notebook runs
top to bottom before the student has tried anything). The reference a check compares with is computed in the
notebook's check cell with the library, where the student can read it; `notebooks/solutions.ipynb` passes every
exercise's stated answer to its check and asserts that all pass.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

#: exercise -> True (right), False (wrong) or None (not attempted), the latest check of each
VERDICTS: dict[str, bool | None] = {}


def _verdict(exercise: str, ok: bool, message: str) -> None:
    VERDICTS[exercise] = ok
    print(f"{'✓' if ok else '✗'} exercise {exercise}: {message}")


def _not_attempted(exercise: str, todo: str = "put your prediction in place of None") -> None:
    VERDICTS[exercise] = None
    print(f"· exercise {exercise}: not attempted yet: {todo}, then rerun this cell (the answer is below it)")


def check_close(exercise: str, answer: Any, reference: Any, atol: float = 1e-4) -> None:
    """The answer (number or array) equals `reference` within `atol`."""
    if answer is None:
        return _not_attempted(exercise)
    answer, reference = np.asarray(answer, dtype=float), np.asarray(reference, dtype=float)
    if answer.shape != reference.shape:
        return _verdict(exercise, False, f"shape {answer.shape}, expected {reference.shape}")
    ok = bool(np.allclose(answer, reference, atol=atol, rtol=0))
    _verdict(
        exercise,
        ok,
        f"{np.round(answer, 4).tolist()} {'matches' if ok else 'differs from'} {np.round(reference, 4).tolist()}",
    )


def check_choice(exercise: str, answer: Any, correct: Any, why: str) -> None:
    """The answer is `correct` (compared as sets when both are lists/sets/tuples); `why` explains it."""
    if answer is None:
        return _not_attempted(exercise)
    collections = (list, set, tuple, frozenset)
    if isinstance(correct, collections):
        answer_set = {frozenset(a) if isinstance(a, collections) else a for a in answer}
        ok = answer_set == {frozenset(c) if isinstance(c, collections) else c for c in correct}
    else:
        ok = answer == correct
    _verdict(exercise, ok, f"{answer!r}: {'right' if ok else f'the answer is {correct!r}'}. {why}")


def check_stw(exercise: str, stw, scores: Sequence[float] = tuple(range(1, 101))) -> None:
    """A custom score-to-weight function: finite, non-negative, non-decreasing in the score, and falling from
    the top result to the tenth (score 91 of 100) faster than the linear STW and slower than the reciprocal."""
    if stw is None:
        return _not_attempted(exercise, "write your STW in place of None")
    import torch

    s = torch.tensor(scores, dtype=torch.float32)
    w = torch.as_tensor(stw(s), dtype=torch.float32)
    if w.shape != s.shape or not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        return _verdict(exercise, False, "the weights must be finite, >= 0 and one per score (elementwise)")
    if bool((w[1:] < w[:-1]).any()):
        return _verdict(exercise, False, "a better score must never get a smaller weight")
    tenth = float(w[s == 91][0] / w[-1])
    ok = 0.1 < tenth < 0.91
    _verdict(
        exercise,
        ok,
        f"position 10 gets {tenth:.2f} of the top weight "
        f"({'between' if ok else 'not between'} reciprocal's 0.10 and linear's 0.91)",
    )


def check_result(
    exercise: str,
    results: pd.DataFrame,
    method: str,
    rival: str,
    metric: str,
    split: str,
    expected: str,
    higher: bool = True,
) -> None:
    """A training exercise: `method` was run and beats (`higher`) or trails `rival` on `metric` in `split`
    of `results` (an experiment's results table); `expected` is the committed outcome. Not run yet: says which
    method to add."""
    have = set(results["method"])
    if method not in have or rival not in have:
        return _not_attempted(exercise, f"add {method!r} to `methods` in the parameters cell and rerun the notebook")
    mean = results[results["split"] == split].groupby("method")[metric].mean()
    ok = bool(mean[method] > mean[rival]) == higher
    _verdict(
        exercise,
        ok,
        f"{split} {metric}: {method} {mean[method]:.3f} vs {rival} {mean[rival]:.3f} "
        f"({'as expected' if ok else 'not what the committed runs show'}: {expected})",
    )


def check_below(exercise: str, value: float | None, reference: float, what: str, expected: str) -> None:
    """A measured `value` (None: the exercise's run has not been made) lies below `reference`; `expected` is the
    committed outcome."""
    if value is None:
        return _not_attempted(exercise, "make the exercise's run")
    ok = value < reference
    _verdict(exercise, ok, f"{what} {value:.3f}, {'below' if ok else 'not below'} {reference:.3f} ({expected})")

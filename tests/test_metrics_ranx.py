"""RBP against ranx (numba JIT costs seconds, hence `slow`)."""

import numpy as np
import pytest
import ranx  # a test dependency (the "test" extra): when missing, the suite fails instead of skipping silently

from gcl_nb.metrics import RankedGrades, rbp


@pytest.mark.slow
def test_rbp_matches_ranx_after_top_grade_normalisation():
    rng = np.random.default_rng(11)
    qrels, run = {}, {}
    for q in range(25):
        docs = [f"d{i}" for i in rng.permutation(50)]
        qrels[f"q{q}"] = {d: int(rng.integers(1, 101)) for d in docs[: rng.integers(1, 20)]}
        retrieved = rng.permutation(docs)[: rng.integers(1, 50)]
        run[f"q{q}"] = {d: float(s) for d, s in zip(retrieved, rng.normal(size=len(retrieved)))}
    gmax = dict(zip(qrels, RankedGrades.from_dicts(qrels, run).gmax))
    for p in (0.7, 0.9):  # ranx spells p = 0.7 as rbp.7
        theirs = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), f"rbp.{round(p * 10)}", return_mean=False)
        ours = rbp(qrels, run, p, per_query=True)
        np.testing.assert_allclose([ours[q] * gmax[q] for q in sorted(qrels)], theirs, rtol=1e-9)  # ranx sorts ids

"""Discounted cumulative gain with trec_eval's discount, the one DCG every NDCG of the package uses.

    DCG = sum_{r=1..n} g_r / log2(r + 1)      (g_r: the gain at rank r, linear: the grade)

Sources: K. Järvelin, J. Kekäläinen. Cumulated gain-based evaluation of IR techniques. ACM TOIS 20(4), 2002;
trec_eval 9.0.x (https://github.com/usnistgov/trec_eval), measure `ndcg_cut`: linear gain, discount log2(r + 1).
"""

from __future__ import annotations

import numpy as np


def discounts(n: int) -> np.ndarray:
    """The weights 1 / log2(r + 1) of ranks r = 1..n."""
    return 1.0 / np.log2(np.arange(2, n + 2))


def dcg(gains: np.ndarray) -> np.ndarray:
    """DCG of gain vectors: `gains` (..., n) holds the gain of rank r at [..., r - 1]; returns shape (...)."""
    gains = np.asarray(gains, dtype=np.float64)
    return gains @ discounts(gains.shape[-1])

"""The official evaluation's integer grades: what the protocol scores a ranking against (gcl_nb.evaluation.protocol)
and what SynthShop writes into its ground-truth files (gcl_nb.data.gs.release_writer)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gcl_nb.data.schema import DataError


def grade_scores(scores: pd.Series) -> np.ndarray:
    """Integer grades 1..100: g = int((s - min) / (max - min) * 99 + 1); 1 everywhere if s is constant."""
    s = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise DataError(f"column {scores.name!r}, row {i}: score {scores.iloc[i]!r} is not a finite number")
    lo, hi = (s.min(), s.max()) if len(s) else (0.0, 0.0)
    if lo == hi:
        return np.ones(len(s), dtype=np.int64)
    return ((s - lo) / (hi - lo) * 99 + 1).astype(np.int64)

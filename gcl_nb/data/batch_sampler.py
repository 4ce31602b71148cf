"""UniqueQueryBatchSampler: a DataLoader batch_sampler that never puts one query twice in a batch."""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
from torch.utils.data import Sampler


class UniqueQueryBatchSampler(Sampler):
    """Batches of row indices in which no query code appears twice (a batch_sampler for DataLoader).

    Per epoch (seed + epoch; call set_epoch), each query's rows are shuffled and interleaved round-robin in a
    random query order, then packed greedily; a row whose query is already in the batch waits for the next one.
    Batches are smaller than batch_size only when too few distinct queries remain (dropped with drop_last)."""

    def __init__(self, query_codes, batch_size: int, seed: int = 0, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        self.query_codes = np.asarray(query_codes, dtype=np.int64)
        self.batch_size, self.seed, self.drop_last, self.epoch = batch_size, seed, drop_last, 0
        self._plan: tuple[int, list] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if self._plan and self._plan[0] == self.epoch:
            return self._plan[1]
        rng = np.random.default_rng([self.seed, self.epoch])
        q = self.query_codes
        shuffled = rng.permutation(len(q))
        rank = pd.Series(q[shuffled]).groupby(q[shuffled]).cumcount().to_numpy()  # k-th row of its query
        order = shuffled[np.lexsort((rng.random(len(q)), rank))]
        pending, batches = deque(order.tolist()), []
        while pending:
            batch, seen, waiting = [], set(), []
            while pending and len(batch) < self.batch_size:
                r = pending.popleft()
                (waiting if q[r] in seen else batch).append(r)
                seen.add(q[r])
            pending.extendleft(reversed(waiting))
            if len(batch) == self.batch_size or not self.drop_last:
                batches.append(batch)
        self._plan = (self.epoch, batches)
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())

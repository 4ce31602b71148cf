"""PairLookup: the target scores of a batch's (query, document) pairs, looked up on the batch's device.

`PairLookup(pairs, score_column).matrix(query_codes, doc_codes)` -> (N, N) target scores T_ij for a batch;
`.find(query_codes, doc_codes, values)` -> (values of the batch's table pairs, presence), on the codes' device.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from gcl_nb.data.datasets import pair_codes


class PairLookup:
    """Which (query_i, doc_j) of a batch are pairs of a table, and their scores (codes as in PairDataset).

    The table is kept grouped by query, each query's documents sorted. A batch lookup runs on the codes'
    device in tensor operations: gather each row's table entries (N x `width`, the most rows any query has),
    binary-search their documents among the batch's sorted documents, scatter the hits straight into the batch's
    columns of an (N, N) matrix, then copy the columns of documents the batch holds more than once (finding
    them is the one wait for a GPU). Each N x N pass is a fresh allocation, so there are as few as possible:
    two (values, presence), which keeps the multi-positive loss near ClipLoss's time (benchmarks/loss.py).
    A (query, product) pair listed twice keeps the score of its first row. The table's tensors move to the
    device of the codes on first use there.
    """

    def __init__(self, pairs: pd.DataFrame, score_column: str = "score_linear"):
        if pairs.empty:
            raise ValueError("PairLookup: the pair table is empty")
        qc, self.queries, dc, self.product_ids = pair_codes(pairs)
        keys = qc * len(self.product_ids) + dc
        order = np.argsort(keys, kind="stable")
        first = np.r_[True, keys[order][1:] != keys[order][:-1]]  # the first row of each distinct pair
        order = order[first]
        counts = np.bincount(qc[order], minlength=len(self.queries))
        self.width = int(counts.max())
        #: the table's scores in table order (by query, then document): the order of `find`'s `values`
        self.scores = torch.from_numpy(pairs[score_column].to_numpy(dtype=np.float32)[order])
        self._table = {
            "start": torch.from_numpy(np.cumsum(counts) - counts),
            "count": torch.from_numpy(counts),
            "doc": torch.from_numpy(dc[order]),
            "score": self.scores,
        }

    def __len__(self) -> int:
        """Number of distinct pairs in the table."""
        return len(self.scores)

    @property
    def nbytes(self) -> int:
        """Bytes of the table's tensors (on one device)."""
        return sum(t.numel() * t.element_size() for t in self._table.values())

    def _table_on(self, device: torch.device) -> dict[str, torch.Tensor]:
        if self._table["doc"].device != device:
            self._table = {name: t.to(device) for name, t in self._table.items()}
        return self._table

    def find(self, query_codes, doc_codes, values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(matrix, present), each (len(query_codes), len(doc_codes)) on the codes' device: present_ij says
        whether (query_i, doc_j) is a pair of the table, matrix_ij is its entry of `values` (one per pair, in
        table order, on that device; default: the scores) or 0."""
        q = torch.as_tensor(query_codes, dtype=torch.long)
        d = torch.as_tensor(doc_codes, dtype=torch.long, device=q.device)
        table = self._table_on(q.device)
        values = table["score"] if values is None else values
        # each row's candidates: its query's entries of the table, `width` slots of which `count` are used
        slot = torch.arange(self.width, device=q.device)
        used = slot < table["count"][q, None]
        entry = (table["start"][q, None] + slot).clamp_max(len(self) - 1)
        cand_doc = table["doc"][entry]
        # each candidate's document among the batch's documents, sorted (the first of equal ones)
        sorted_doc, order = d.sort(stable=True)
        position = torch.searchsorted(sorted_doc, cand_doc).clamp_max(len(d) - 1)
        hit = used & (sorted_doc[position] == cand_doc)
        # a hit goes to the first batch column holding its document, a miss to a spare last column ...
        column = torch.where(hit, order[position], len(d))
        shape = (len(q), len(d) + 1)
        matrix = torch.zeros(shape, dtype=values.dtype, device=q.device).scatter_(1, column, values[entry])[:, :-1]
        present = torch.zeros(shape, dtype=torch.bool, device=q.device).scatter_(1, column, hit)[:, :-1]
        # ... and a column repeating an earlier column's document copies that column
        first = order[torch.searchsorted(sorted_doc, d)]
        repeats = torch.nonzero(first != torch.arange(len(d), device=d.device)).flatten()
        if len(repeats):
            matrix[:, repeats] = matrix[:, first[repeats]]
            present[:, repeats] = present[:, first[repeats]]
        return matrix, present

    def matrix(self, query_codes, doc_codes) -> torch.Tensor:
        """(len(query_codes), len(doc_codes)) float tensor T_ij = score(query_i, doc_j), 0 where not a pair."""
        return self.find(query_codes, doc_codes)[0]

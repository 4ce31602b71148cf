"""PairLookup: the target scores of a batch's (query, document) pairs, looked up on the batch's device.

`PairLookup(pairs, score_column).matrix(query_codes, doc_codes)` -> (N, N) target scores T_ij for a batch;
`.entries(query_codes, doc_codes, values)` -> (rows, columns, values) of the batch's table pairs;
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
    binary-search their documents among the batch's sorted documents, and list one entry per batch column
    holding a hit's document (`entries`; sizing that list is the one wait for a GPU). Only `matrix` and `find`
    make N x N tensors, one each (two for `find`), so a batch rescaling runs over the entries, not the matrix
    (the multi-positive loss's time against ClipLoss: benchmarks/loss.py).
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

    def entries(
        self, query_codes, doc_codes, values: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(rows, columns, entry values) of every (query_i, doc_j) of a batch that is a pair of the table, on the
        codes' device: one entry per batch cell, so a document the batch holds twice gives two. The values are
        `values`' entries of those pairs (one per pair, in table order, on that device; default: the scores)."""
        q = torch.as_tensor(query_codes, dtype=torch.long)
        d = torch.as_tensor(doc_codes, dtype=torch.long, device=q.device)
        table = self._table_on(q.device)
        values = table["score"] if values is None else values
        # each row's candidates: its query's entries of the table, `width` slots of which `count` are used
        slot = torch.arange(self.width, device=q.device)
        used = slot < table["count"][q, None]
        entry = (table["start"][q, None] + slot).clamp_max(len(self) - 1)
        cand_doc = table["doc"][entry]
        # the batch columns holding each candidate's document: a run of the batch's documents, sorted
        sorted_doc, order = d.sort(stable=True)
        first = torch.searchsorted(sorted_doc, cand_doc)
        columns = torch.where(used, torch.searchsorted(sorted_doc, cand_doc, right=True) - first, 0).flatten()
        # one entry per (candidate, column holding its document)
        hit = torch.repeat_interleave(columns)
        run_start = torch.cumsum(columns, 0) - columns
        column = order[first.flatten()[hit] + torch.arange(len(hit), device=q.device) - run_start[hit]]
        return torch.div(hit, self.width, rounding_mode="floor"), column, values[entry.flatten()[hit]]

    def find(self, query_codes, doc_codes, values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(matrix, present), each (len(query_codes), len(doc_codes)) on the codes' device: present_ij says
        whether (query_i, doc_j) is a pair of the table, matrix_ij is its entry of `values` (as `entries`) or 0."""
        rows, columns, entry_values = self.entries(query_codes, doc_codes, values)
        shape = (len(query_codes), len(doc_codes))
        return _dense(shape, rows, columns, entry_values), _dense(
            shape, rows, columns, torch.ones_like(rows, dtype=bool)
        )

    def matrix(self, query_codes, doc_codes, values: torch.Tensor | None = None, rescaling=None) -> torch.Tensor:
        """(len(query_codes), len(doc_codes)) matrix T_ij = the entry of `values` (as `entries`) of the pair
        (query_i, doc_j), 0 where not a pair; `rescaling` (values -> values, e.g. a batch rescaling of STW
        weights) maps the batch's entries first."""
        rows, columns, entry_values = self.entries(query_codes, doc_codes, values)
        if rescaling is not None:
            entry_values = rescaling(entry_values)
        return _dense((len(query_codes), len(doc_codes)), rows, columns, entry_values)


def _dense(shape: tuple[int, int], rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A matrix of `shape` holding `values` at (rows, columns), 0 (False) elsewhere."""
    return torch.zeros(shape, dtype=values.dtype, device=values.device).index_put_((rows, columns), values)

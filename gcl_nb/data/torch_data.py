"""Torch datasets over loaded Marqo-GS / SynthShop data, for training (pairs) and evaluation (corpus).

Contract with the training loop (gcl_nb/train.py) and models (gcl_nb/models):
- `PairDataset(pairs, corpus, rhs_fields, preprocess)` items: {"query": str, "fields": {name: Tensor | str},
  "field_mask": BoolTensor (F,), "score": float, "query_code": int, "doc_code": int, "row": int}.
  rhs_fields is a list of (name, kind), kind "image" (name "image": the product image) or "text" (a column of
  the pair table, else of corpus.products, e.g. "title"). field_mask is False where the field is missing (empty
  or NaN text, product without image); the field then holds "" or a zero tensor, and the model gives it weight 0.
  A product with none of the fields cannot be embedded: constructing the dataset raises a DataError naming it.
- `collate_pairs(items, tokenize)`: {"query": LongTensor (B, L) from tokenize(list[str]), "fields": {name:
  FloatTensor (B, C, H, W) | LongTensor (B, L)}, "field_mask": (B, F), "score": (B,), "query_code": (B,),
  "doc_code": (B,), "row": (B,)} (keys present in the items only). Use it via functools.partial as collate_fn.
- `PairLookup(pairs, score_column).matrix(query_codes, doc_codes)` -> (N, N) target scores T_ij for a batch;
  `.find(query_codes, doc_codes, values)` -> (values of the batch's table pairs, presence), on the codes' device.
- `UniqueQueryBatchSampler(query_codes, batch_size, seed)`: batch_sampler with no query twice in a batch.
- `CorpusDataset(corpus, product_ids, rhs_fields, preprocess)` items: {"product_id", "fields", "field_mask",
  "index"} for encoding documents; collate with collate_pairs too.
Query / doc codes are positions in `PairDataset.queries` / `.product_ids` (pd.factorize order of the table).
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from gcl_nb.data.gs import Corpus
from gcl_nb.data.schema import DataError

FIELD_KINDS = ("image", "text")
CACHE_MODES = ("tensor", "uint8")


def pair_codes(pairs: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray, pd.Index]:
    """(query_codes, queries, doc_codes, product_ids): integer codes in first-appearance order."""
    qc, queries = pd.factorize(pairs["query"])
    dc, pids = pd.factorize(pairs["product_id"])
    return qc.astype(np.int64), pd.Index(queries), dc.astype(np.int64), pd.Index(pids)


class ImageCache:
    """Decoded images kept in memory per product id, so epochs after the first do not decode again.

    mode "tensor" caches the preprocess output (use with a deterministic eval/train preprocess); mode "uint8"
    caches the decoded RGB pixels (H, W, 3) and re-runs the preprocess each time (keeps random augmentation).
    One cache serves one preprocess: do not share it between different preprocess functions."""

    def __init__(self, mode: str = "tensor"):
        if mode not in CACHE_MODES:
            raise ValueError(f"ImageCache mode {mode!r}: choose one of {CACHE_MODES}")
        self.mode, self._items, self.hits, self.misses = mode, {}, 0, 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, corpus: Corpus, product_id: str, preprocess: Callable) -> torch.Tensor:
        key = (corpus.half, product_id)
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            img = corpus.load_image(product_id)
            item = preprocess(img) if self.mode == "tensor" else np.asarray(img, dtype=np.uint8)
            self._items[key] = item
        else:
            self.hits += 1
        return item if self.mode == "tensor" else preprocess(Image.fromarray(item))


def _check_fields(rhs_fields) -> list[tuple[str, str]]:
    fields = [(str(n), str(k)) for n, k in rhs_fields]
    bad = [k for _, k in fields if k not in FIELD_KINDS]
    if not fields or bad:
        raise ValueError(f"rhs_fields {rhs_fields!r}: give (name, kind) pairs with kind in {FIELD_KINDS}")
    return fields


class _FieldReader:
    """Reads the RHS fields of one product: image through the (optional) cache, texts from a row."""

    def __init__(self, corpus: Corpus, rhs_fields, preprocess: Callable, image_cache: ImageCache | None):
        self.corpus, self.fields = corpus, _check_fields(rhs_fields)
        self.preprocess, self.cache, self._blank = preprocess, image_cache, None

    def blank(self) -> torch.Tensor:
        """Zeros shaped like a preprocessed image of this corpus (the stand-in for a missing image)."""
        if self._blank is None:
            pid = next((p for p in self.corpus.products.index if self.corpus.has_image(p)), None)
            img = self.corpus.load_image(pid) if pid is not None else Image.new("RGB", (224, 224))
            self._blank = torch.zeros_like(self.preprocess(img))
        return self._blank

    def require_a_field(self, product_ids: np.ndarray, texts: dict[str, np.ndarray]) -> None:
        """DataError naming the first product that has none of the fields (no text and no image)."""
        ids = pd.Index(product_ids)
        present = np.zeros(len(ids), dtype=bool)
        for name, kind in self.fields:
            if kind == "image":
                unique = ids.unique()
                with_image = unique[np.fromiter(map(self.corpus.has_image, unique), bool, len(unique))]
                present |= ids.isin(with_image)
            else:
                present |= pd.Series(texts[name]).fillna("").astype(str).str.strip().ne("").to_numpy()
        if not present.all():
            pid = ids[int(np.flatnonzero(~present)[0])]
            raise DataError(f"product {pid!r} (corpus half {self.corpus.half}) has none of the fields "
                            f"{[n for n, _ in self.fields]} (empty title, image missing or skipped): it cannot be "
                            f"embedded; give it a title or an image, or drop its rows ({(~present).sum()} like this)")

    def image(self, product_id: str) -> torch.Tensor:
        if self.cache is not None:
            return self.cache.get(self.corpus, product_id, self.preprocess)
        return self.preprocess(self.corpus.load_image(product_id))

    def read(self, product_id: str, texts: dict[str, object]) -> tuple[dict, torch.Tensor]:
        values, mask = {}, []
        for name, kind in self.fields:
            if kind == "image":
                ok = self.corpus.has_image(product_id)
                values[name] = self.image(product_id) if ok else self.blank()
            else:
                text = texts.get(name)
                ok = isinstance(text, str) and bool(text.strip())
                values[name] = text if ok else ""
            mask.append(ok)
        return values, torch.tensor(mask, dtype=torch.bool)


def _text_columns(fields, *frames: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each text field, its values from the first frame that has the column."""
    out = {}
    for name, kind in fields:
        if kind != "text":
            continue
        frame = next((f for f in frames if name in f.columns), None)
        if frame is None:
            raise ValueError(f"text field {name!r} is neither a pair-table nor a corpus column")
        out[name] = frame
    return out


class PairDataset(Dataset):
    """One item per row of a split's pair table (see the module docstring for the item layout)."""

    def __init__(self, pairs: pd.DataFrame, corpus: Corpus, rhs_fields: Sequence[tuple[str, str]],
                 preprocess: Callable[[Image.Image], torch.Tensor], score_column: str = "score_linear",
                 image_cache: ImageCache | None = None):
        if score_column not in pairs.columns:
            raise ValueError(f"score column {score_column!r} not in the pair table ({list(pairs.columns)})")
        self.pairs = pairs.reset_index(drop=True)
        self.reader = _FieldReader(corpus, rhs_fields, preprocess, image_cache)
        self.query_codes, self.queries, self.doc_codes, self.product_ids = pair_codes(self.pairs)
        self.scores = self.pairs[score_column].to_numpy(dtype=np.float64)
        self._query_text = self.pairs["query"].to_numpy()
        self._pid = self.pairs["product_id"].to_numpy()
        sources = _text_columns(self.reader.fields, self.pairs, corpus.products)
        self._texts = {name: (frame[name].to_numpy() if frame is self.pairs
                              else frame[name].reindex(self._pid).to_numpy())
                       for name, frame in sources.items()}
        self.reader.require_a_field(self._pid, self._texts)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        values, mask = self.reader.read(self._pid[i], {n: t[i] for n, t in self._texts.items()})
        return {"query": str(self._query_text[i]), "fields": values, "field_mask": mask,
                "score": float(self.scores[i]), "query_code": int(self.query_codes[i]),
                "doc_code": int(self.doc_codes[i]), "row": i}


class CorpusDataset(Dataset):
    """One item per product id, for encoding documents at evaluation time."""

    def __init__(self, corpus: Corpus, product_ids: Sequence[str], rhs_fields: Sequence[tuple[str, str]],
                 preprocess: Callable[[Image.Image], torch.Tensor], image_cache: ImageCache | None = None):
        self.product_ids = [str(p) for p in product_ids]
        self.reader = _FieldReader(corpus, rhs_fields, preprocess, image_cache)
        sources = _text_columns(self.reader.fields, corpus.products)
        self._texts = {name: frame[name].reindex(self.product_ids).to_numpy() for name, frame in sources.items()}
        self.reader.require_a_field(np.asarray(self.product_ids, dtype=object), self._texts)

    def __len__(self) -> int:
        return len(self.product_ids)

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        values, mask = self.reader.read(self.product_ids[i], {n: t[i] for n, t in self._texts.items()})
        return {"product_id": self.product_ids[i], "fields": values, "field_mask": mask, "index": i}


def collate_pairs(items: list[dict], tokenize: Callable[[list[str]], torch.Tensor]) -> dict:
    """Stack images, tokenize texts (queries and text fields), tensorise scores and codes."""
    out: dict = {}
    if "query" in items[0]:
        out["query"] = tokenize([it["query"] for it in items])
    out["fields"] = {}
    for name, first in items[0]["fields"].items():
        values = [it["fields"][name] for it in items]
        out["fields"][name] = tokenize(values) if isinstance(first, str) else torch.stack(values)
    out["field_mask"] = torch.stack([it["field_mask"] for it in items])
    if "score" in items[0]:
        out["score"] = torch.tensor([it["score"] for it in items], dtype=torch.float32)
    for key in ("query_code", "doc_code", "row", "index"):
        if key in items[0]:
            out[key] = torch.tensor([it[key] for it in items], dtype=torch.long)
    if "product_id" in items[0]:
        out["product_id"] = [it["product_id"] for it in items]
    return out


class PairLookup:
    """Which (query_i, doc_j) of a batch are pairs of a table, and their scores (codes as in PairDataset).

    The table is kept grouped by query, each query's documents sorted. A batch lookup runs on the codes'
    device in fixed-shape tensor operations, with no wait for a GPU: gather each row's table entries
    (N x `width`, the most rows any query has), binary-search their documents among the batch's sorted
    documents, scatter the hits into an (N, N) matrix. A (query, product) pair listed twice keeps the score of
    its first row. The table's tensors move to the device of the codes on first use there.
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
        self._table = {"start": torch.from_numpy(np.cumsum(counts) - counts), "count": torch.from_numpy(counts),
                       "doc": torch.from_numpy(dc[order]), "score": self.scores}

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
        # the position of each candidate's document among the batch's sorted documents (the first of equal ones)
        sorted_doc = d.sort().values
        column = torch.searchsorted(sorted_doc, cand_doc).clamp_max(len(d) - 1)
        hit = used & (sorted_doc[column] == cand_doc)
        column = torch.where(hit, column, len(d))  # misses go to a spare last column
        shape = (len(q), len(d) + 1)
        by_sorted_doc = torch.zeros(shape, dtype=values.dtype, device=q.device).scatter_(1, column, values[entry])
        present = torch.zeros(shape, dtype=torch.bool, device=q.device).scatter_(1, column, hit)
        # batch column j takes the sorted position of its document
        of_column = torch.searchsorted(sorted_doc, d)
        return by_sorted_doc.index_select(1, of_column), present.index_select(1, of_column)

    def matrix(self, query_codes, doc_codes) -> torch.Tensor:
        """(len(query_codes), len(doc_codes)) float tensor T_ij = score(query_i, doc_j), 0 where not a pair."""
        return self.find(query_codes, doc_codes)[0]


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

"""Torch datasets over loaded Marqo-GS / SynthShop data, for training (pairs) and evaluation (corpus).

Contract with the training loop (gcl_nb.training) and models (gcl_nb.models):
- `PairDataset(pairs, corpus, rhs_fields, preprocess)` items (index: a row, or (step, row) for augmentation
  seeded per sample, `sample_seed`): {"query": str, "fields": {name: Tensor | str},
  "field_mask": BoolTensor (F,), "score": float, "query_code": int, "doc_code": int, "row": int}.
  rhs_fields is a list of (name, kind), kind "image" (name "image": the product image) or "text" (a column of
  the pair table, else of corpus.products, e.g. "title"). field_mask is False where the field is missing (empty
  or NaN text, product without image); the field then holds "" or a zero tensor, and the model gives it weight 0.
  A product with none of the fields cannot be embedded: constructing the dataset raises a DataError naming it.
- `CorpusDataset(corpus, product_ids, rhs_fields, preprocess)` items: {"product_id", "fields", "field_mask",
  "index"} for encoding documents; collate with collate_pairs too.
- `collate_pairs(items, tokenize)`: {"query": LongTensor (B, L) from tokenize(list[str]), "fields": {name:
  FloatTensor (B, C, H, W) | LongTensor (B, L)}, "field_mask": (B, F), "score": (B,), "query_code": (B,),
  "doc_code": (B,), "row": (B,)} (keys present in the items only). Use it via functools.partial as collate_fn.
Query / doc codes (`pair_codes`) are positions in `PairDataset.queries` / `.product_ids` (pd.factorize order of
the table).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from gcl_nb.data.gs import Corpus
from gcl_nb.data.image_cache import ImageCache
from gcl_nb.data.schema import FIELD_KINDS, DataError, SettingError


def pair_codes(pairs: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray, pd.Index]:
    """(query_codes, queries, doc_codes, product_ids): integer codes in first-appearance order."""
    qc, queries = pd.factorize(pairs["query"])
    dc, pids = pd.factorize(pairs["product_id"])
    return qc.astype(np.int64), pd.Index(queries), dc.astype(np.int64), pd.Index(pids)


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
            raise DataError(
                f"product {pid!r} (corpus half {self.corpus.half}) has none of the fields "
                f"{[n for n, _ in self.fields]} (empty title, image missing or skipped): it cannot be "
                f"embedded; give it a title or an image, or drop its rows ({(~present).sum()} like this)"
            )

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


def _text_columns(fields, *frames: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """For each text field, the first of `frames` that has its column."""
    out = {}
    for name, kind in fields:
        if kind != "text":
            continue
        frame = next((f for f in frames if name in f.columns), None)
        if frame is None:
            raise ValueError(f"text field {name!r} is neither a pair-table nor a corpus column")
        out[name] = frame
    return out


def sample_seed(seed: int, step: int, row: int) -> int:
    """The random seed of one training sample's augmentation: a function of (seed, step, row) only, so the crops
    of a batch do not depend on how many processes or loader workers share it."""
    return int.from_bytes(hashlib.blake2b(f"{seed},{step},{row}".encode(), digest_size=8).digest(), "little")


class PairDataset(Dataset):
    """One item per row of a split's pair table (see the module docstring for the item layout).

    An index is a row, or a (step, row) pair: then the row's random augmentation is drawn from
    `sample_seed(augment_seed, step, row)` (the global RNG is left as it was), the same in any process or worker.
    """

    def __init__(
        self,
        pairs: pd.DataFrame,
        corpus: Corpus,
        rhs_fields: Sequence[tuple[str, str]],
        preprocess: Callable[[Image.Image], torch.Tensor],
        score_column: str = "score_linear",
        image_cache: ImageCache | None = None,
        augment_seed: int = 0,
    ):
        if score_column not in pairs.columns:
            raise SettingError(
                f"score_column={score_column!r}: not a column of the pair table; choose one of "
                f"{', '.join(map(str, pairs.columns))}"
            )
        self.pairs, self.augment_seed = pairs.reset_index(drop=True), augment_seed
        self.reader = _FieldReader(corpus, rhs_fields, preprocess, image_cache)
        self.query_codes, self.queries, self.doc_codes, self.product_ids = pair_codes(self.pairs)
        self.scores = self.pairs[score_column].to_numpy(dtype=np.float64)
        self._query_text = self.pairs["query"].to_numpy()
        self._pid = self.pairs["product_id"].to_numpy()
        sources = _text_columns(self.reader.fields, self.pairs, corpus.products)
        self._texts = {
            name: (frame[name].to_numpy() if frame is self.pairs else frame[name].reindex(self._pid).to_numpy())
            for name, frame in sources.items()
        }
        self.reader.require_a_field(self._pid, self._texts)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        step, i = (int(index[0]), int(index[1])) if isinstance(index, tuple) else (None, int(index))
        with torch.random.fork_rng(devices=[], enabled=step is not None):
            if step is not None:  # the CPU generator only: torch.manual_seed would seed CUDA too (~0.5 ms)
                torch.default_generator.manual_seed(sample_seed(self.augment_seed, step, i))
            values, mask = self.reader.read(self._pid[i], {n: t[i] for n, t in self._texts.items()})
        return {
            "query": str(self._query_text[i]),
            "fields": values,
            "field_mask": mask,
            "score": float(self.scores[i]),
            "query_code": int(self.query_codes[i]),
            "doc_code": int(self.doc_codes[i]),
            "row": i,
        }


class CorpusDataset(Dataset):
    """One item per product id, for encoding documents at evaluation time."""

    def __init__(
        self,
        corpus: Corpus,
        product_ids: Sequence[str],
        rhs_fields: Sequence[tuple[str, str]],
        preprocess: Callable[[Image.Image], torch.Tensor],
        image_cache: ImageCache | None = None,
    ):
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

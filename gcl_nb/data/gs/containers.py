"""The loaded data: a Corpus per corpus half (products + lazy images) and GSData (pair tables + corpora)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from gcl_nb.data.gs.images import FolderImages, ParquetImages, decode_image
from gcl_nb.data.schema import SPLIT_CORPUS, DataError, check_corpus_scope, check_split, protocol_order


@dataclass
class Corpus:
    """The documents a split is evaluated against: `.products` (DataFrame indexed by product_id: title and any
    further text field) and lazy images. `split` is None for a whole corpus half, else the split whose own rows
    it holds."""

    half: int
    products: pd.DataFrame
    images: FolderImages | ParquetImages = field(repr=False)
    without_image: frozenset = frozenset()
    split: str | None = None

    def __len__(self) -> int:
        return len(self.products)

    @property
    def name(self) -> str:
        return f"corpus half {self.half}" if self.split is None else f"the products of split {self.split!r}"

    def has_image(self, product_id: str) -> bool:
        return product_id in self.products.index and product_id not in self.without_image

    def load_image(self, product_id: str) -> Image.Image:
        """The product's image as RGB; DataError naming the product and file when missing or corrupt."""
        if product_id not in self.products.index:
            raise DataError(f"product {product_id!r} is not in {self.name}")
        if product_id in self.without_image:
            raise DataError(
                f"product {product_id!r}: image {self.images.describe(product_id)} was skipped at "
                f"load time (missing or unreadable); check has_image() first"
            )
        return decode_image(self.images.read(product_id), product_id, self.images.describe(product_id))

    def restricted(self, split: str, product_ids) -> "Corpus":
        """The products of one split's rows (first-appearance order), sharing this half's images."""
        ids = pd.Index(pd.unique(np.asarray(product_ids, dtype=object)))
        return Corpus(self.half, self.products.loc[ids], self.images, self.without_image.intersection(ids), split)


@dataclass
class GSData:
    """A loaded subset: per split the pair table, per corpus half a Corpus.

    `corpus_scope` "half" (corpus_for(split) = the split's corpus half) or "split" (the products of the split's
    own rows). `bad_images` lists products whose image was missing/unreadable and skipped (on_bad_image="skip");
    their rows stay in the split tables and `corpus.has_image(pid)` is False. `missing`: per split (rows) and per
    corpus half (products) the count without a title, without an image, and without either. `derived_columns`:
    per split the PAIR_COLUMNS its files lack (derived, see gcl_nb.data.gs.validation)."""

    root: Path
    layout: str
    corpora: dict[int, Corpus]
    tables: dict[str, pd.DataFrame] = field(repr=False)
    bad_images: tuple[str, ...] = ()
    corpus_scope: str = "half"
    derived_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    missing: pd.DataFrame = field(default=None, repr=False)

    def __post_init__(self):
        check_corpus_scope(self.corpus_scope)
        self._split_corpora: dict[str, Corpus] = {}
        if self.missing is None:
            self.missing = missing_fields(self.tables, self.corpora)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(protocol_order(self.tables, others=False))

    @property
    def n_bad_images(self) -> int:
        return len(self.bad_images)

    def split(self, name: str) -> pd.DataFrame:
        """The split's pair table (PAIR_COLUMNS; shared, do not modify in place)."""
        check_split(name)
        if name not in self.tables:
            raise DataError(f"split {name!r} is not in {self.root}: present are {', '.join(self.splits)}")
        return self.tables[name]

    def corpus_for(self, split: str) -> Corpus:
        """The documents `split` is searched against (see corpus_scope)."""
        half = self.corpora[SPLIT_CORPUS[check_split(split)]]
        if self.corpus_scope == "half":
            return half
        if split not in self._split_corpora:
            self._split_corpora[split] = half.restricted(split, self.split(split)["product_id"])
        return self._split_corpora[split]


def missing_fields(tables: dict[str, pd.DataFrame], corpora: dict[int, Corpus]) -> pd.DataFrame:
    """Rows per split / products per corpus half, and how many of them lack a title, an image, or both."""
    counts = {}
    parts = [(s, t["title"], t["product_id"], corpora[SPLIT_CORPUS[s]]) for s, t in tables.items()]
    parts += [(f"corpus_{h}", c.products["title"], c.products.index.to_series(), c) for h, c in corpora.items()]
    for name, titles, pids, corpus in parts:
        no_title = (titles.astype(str).str.strip() == "").to_numpy()
        no_image = pids.isin(corpus.without_image).to_numpy()
        counts[name] = {
            "rows": len(titles),
            "no_title": int(no_title.sum()),
            "no_image": int(no_image.sum()),
            "no_field": int((no_title & no_image).sum()),
        }
    return pd.DataFrame.from_dict(counts, orient="index", columns=["rows", "no_title", "no_image", "no_field"])

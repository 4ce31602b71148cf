"""Decoded images kept in memory per product, so epochs after the first do not decode again."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image

from gcl_nb.data.gs import Corpus

CACHE_MODES = ("tensor", "uint8")


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

"""EvalConfig: how a model is evaluated, one object carried by every evaluation function.

The defaults are the official Marqo-GS evaluation (docs/METHOD.md "Evaluation protocol"): every split, 2,000
queries sampled per split, the top 1,000 documents retrieved per query. Where the search runs is not a setting:
the top-k search runs on the model's own device (`model.device`; the CPU for a model without one, e.g. BM25), so
a model moved to a GPU is evaluated there.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gcl_nb.data.schema import SPLITS, SettingError

GROUND_TRUTH_FILES = ("test", "dev")


@dataclass(frozen=True)
class EvalConfig:
    """Settings of one evaluation (checked on construction: SettingError naming the field).

    Args:
        splits: the splits evaluated, in this order (`evaluate`, `run_protocol`, the fusion helpers;
            `evaluate_split` evaluates the one split it is given).
        top_q: queries sampled per split with the official weighted sampling (None or -1: every query).
        top_k: documents retrieved per query, the depth of every metric (recall@1000, MAP@1000, ...).
        ground_truth: None (sample queries as the official script does), "test" / "dev" (the tarball's
            `<split stem>_gt_<which>.json` files) or {split: path of a ground-truth JSON file}.
        batch_size: queries, and products, encoded per forward pass.
        cache_dir: folder for the corpus embeddings on disk, per (model fingerprint, corpus) (None: in memory
            only). The fusion helpers keep per-field embeddings in memory and do not use it.
        progress: show progress bars while encoding.
    """

    splits: tuple[str, ...] = SPLITS
    top_q: int | None = 2000
    top_k: int = 1000
    ground_truth: str | Mapping[str, str | Path] | None = field(default=None, hash=False)
    batch_size: int = 256
    cache_dir: str | Path | None = None
    progress: bool = False

    def __post_init__(self):
        splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits)
        unknown = [s for s in splits if s not in SPLITS]
        if unknown or not splits or len(set(splits)) != len(splits):
            raise SettingError(f"splits={list(splits)}: give one or more distinct splits of {', '.join(SPLITS)}")
        object.__setattr__(self, "splits", splits)
        _check_int("top_q", self.top_q, allow=(None, -1))
        _check_int("top_k", self.top_k)
        _check_int("batch_size", self.batch_size)
        if not (
            self.ground_truth is None
            or self.ground_truth in GROUND_TRUTH_FILES
            or isinstance(self.ground_truth, Mapping)
        ):
            raise SettingError(f"ground_truth={self.ground_truth!r}: use None, 'test', 'dev' or {{split: path}}")


def _check_int(name: str, value, allow: tuple = ()) -> None:
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if value is None and None in allow or whole and value in allow:
        return
    if not whole or value < 1:
        also = " (or None / -1 for every query)" if allow else ""
        raise SettingError(f"{name}={value!r}: give a whole number >= 1{also}")

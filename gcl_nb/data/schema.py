"""Names shared by every data path: the four Marqo-GS splits, their files, their corpus halves, the columns.

See docs/METHOD.md "Splits": queries are split 80/20 (query_0 / query_1), products 50/50 (corpus 1 / corpus 2).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

SPLITS = ("in_domain", "novel_query", "novel_document", "zero_shot")

#: split -> file stem in the tarball release (query_{0,1}_product_id_{0,1}).
SPLIT_FILE_STEMS = {
    "in_domain": "query_0_product_id_0",
    "novel_query": "query_1_product_id_0",
    "novel_document": "query_0_product_id_1",
    "zero_shot": "query_1_product_id_1",
}

#: split -> corpus half (1 or 2) whose documents are searched when evaluating the split.
SPLIT_CORPUS = {"in_domain": 1, "novel_query": 1, "novel_document": 2, "zero_shot": 2}


def protocol_order(names: Iterable[str], others: bool = True) -> list[str]:
    """The distinct `names` in the protocol's split order (SPLITS), then those that are not splits in their
    first-seen order (dropped with `others=False`)."""
    names = list(dict.fromkeys(names))
    splits = [s for s in SPLITS if s in names]
    return splits + [s for s in names if s not in SPLITS] if others else splits


#: Columns every pair table has once loaded (ids are strings, position/scores numeric).
PAIR_COLUMNS = (
    "query",
    "query_id",
    "product_id",
    "title",
    "position",
    "score_linear",
    "score_reciprocal",
    "no_score",
    "pair_id",
)
SCORE_COLUMNS = ("score_linear", "score_reciprocal", "no_score")
ID_COLUMNS = ("query_id", "product_id", "pair_id")
#: Columns a split file must have: the evaluation protocol reads only these (plus the corpus). Every other
#: column of PAIR_COLUMNS is derived when absent (see gcl_nb.data.gs.validation).
REQUIRED_COLUMNS = ("query", "product_id", "score_linear")
#: The official ground-truth files (`*_gt_test.json`) key each query as its text followed by this suffix.
QUERY_KEY_SUFFIX = "_{!@#~}_"
#: Corpus scope: "half" searches the split's whole corpus half (the tarball's corpus JSON, as the official tarball
#: evaluator); "split" searches the products of the split's own rows (as the official Hugging Face evaluator).
CORPUS_SCOPES = ("half", "split")
#: What to do with a missing or unreadable image, and how thoroughly to check images at load time.
ON_BAD_IMAGE = ("error", "skip")
CHECK_IMAGES = ("none", "exists", "decode")
#: The report `gcl-nb prepare` writes last into a data folder, listing the folder's files (gcl_nb.data.prepare).
PREPARE_REPORT = "prepare_report.json"
#: The kinds of document field: a text column or the product image.
FIELD_KINDS = ("text", "image")


class DataError(ValueError):
    """Bad input data: the message names the file, the row/column and what to do about it."""


class SettingError(ValueError):
    """A setting (option, configuration field, notebook parameter) with an unusable value: the message names the
    setting, its value and the valid choices. Raised before any work is done."""


def check_split(name: str) -> str:
    """Return `name` if it is one of SPLITS, else raise DataError listing the valid names."""
    if name not in SPLITS:
        raise DataError(f"unknown split {name!r}: choose one of {', '.join(SPLITS)}")
    return name


def check_choice(option: str, value, choices: tuple) -> str:
    """`value` if it is one of `choices`, else SettingError naming the option and the choices."""
    if value not in choices:
        raise SettingError(f"{option}={value!r}: choose one of {', '.join(map(str, choices))}")
    return value


def check_whole_number(option: str, value, minimum: int, also: tuple[int, str] | None = None) -> int:
    """`value` if it is a whole number >= `minimum` (or `also`'s number, which means `also`'s text), else
    SettingError naming the option and what it takes."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if whole and (value >= minimum or also is not None and value == also[0]):
        return value
    alternative = f" (or {also[0]}: {also[1]})" if also else ""
    raise SettingError(f"{option}={value!r}: give a whole number >= {minimum}{alternative}")


def check_corpus_scope(scope: str) -> str:
    """`scope` if it is one of CORPUS_SCOPES, else SettingError naming the choices."""
    return check_choice("corpus", scope, CORPUS_SCOPES)

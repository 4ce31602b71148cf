"""Checks and derivations for split tables (shared by both layouts); errors name the file, row and what to do.

A split file needs only REQUIRED_COLUMNS (query, product_id, score_linear); the other PAIR_COLUMNS are derived when
absent (`GSData.derived_columns`): query_id from the query text (queries are keyed by their text, as the official
evaluator does), pair_id = row number, title from the corpus file (tarball) or empty (parquet), and as the release
(gcl_nb.data.gs.release_split): position = rank of score_linear within the query, score_reciprocal = 1 / position,
no_score = 1. Ids (query_id, product_id, pair_id) are strings everywhere.
"""

from __future__ import annotations

import csv
import hashlib
import math
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from gcl_nb.data.gs.containers import Corpus
from gcl_nb.data.gs.release_split import positions_by_score, reciprocal_and_no_score
from gcl_nb.data.schema import ID_COLUMNS, PAIR_COLUMNS, REQUIRED_COLUMNS, SCORE_COLUMNS, DataError

Where = Callable[[int], str]

#: a corpus's own fields; every further field of a corpus entry (tarball) or further string column of the split
#: files (parquet) loads as a document text field of `Corpus.products` (description, brand, ...)
CORPUS_FIELDS = ("title", "image_local")


def field_text(value) -> str:
    """A text field's value as loaded: a string as is, a missing value (None, NaN) "", anything else str(value)."""
    if isinstance(value, str):
        return value
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def csv_line(path: Path, record: int) -> int:
    """The physical line (1-based) on which data record `record` (0-based, after the header) starts.

    Quoted titles may hold newlines, so record i is not always on line i + 2: this re-reads the file with the csv
    module up to that record (only error messages call it)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        next(reader, None)
        start, n = reader.line_num + 1, -1
        for row in reader:
            if row:  # pandas skips blank lines
                n += 1
                if n == record:
                    return start
            start = reader.line_num + 1
    return start


def malformed_csv_record(path: Path) -> str | None:
    """Where the first record whose field count differs from the header's starts ("line N: expected A fields,
    saw B"), by physical line (titles may hold newlines); None when every record has the header's count."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                return f"line {start}: expected {len(header)} fields (the header's), saw {len(row)}"
            start = reader.line_num + 1
    return None


def derived_query_ids(queries: pd.Series) -> np.ndarray:
    """A stable id per query text, 'q' + 16 hex digits of its BLAKE2b hash: the same in every split and file."""
    codes, texts = pd.factorize(queries)
    ids = np.array(["q" + hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in texts], dtype=object)
    return ids[codes]


def _required_text(raw: pd.DataFrame, col: str, source: str, where: Where) -> np.ndarray:
    values = raw[col]
    text = values.astype(str).where(values.notna(), "")
    empty = (text.str.strip() == "").to_numpy()
    if empty.any():
        i = _first(empty)
        raise DataError(f"{source}, {where(i)}, column {col!r}: value is missing or empty; fill it or drop the row")
    return text.to_numpy()


def validate_pairs(raw: pd.DataFrame, source: str, where: Where = lambda i: f"row {i}") -> pd.DataFrame:
    """Check the columns of one split file (all as read) and return the PAIR_COLUMNS it has, typed: ids and
    text str, position int64, scores float64. A missing title becomes "". `where(i)` names data row i."""
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        optional = [c for c in PAIR_COLUMNS if c not in REQUIRED_COLUMNS]
        raise DataError(
            f"{source}: missing column(s) {missing}; a split table needs {list(REQUIRED_COLUMNS)} "
            f"({optional} are derived when absent); found {list(raw.columns)}. Use the release files"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for col in ("query", *ID_COLUMNS):
        if col in raw.columns:
            out[col] = _required_text(raw, col, source, where)
    if "title" in raw.columns:
        out["title"] = raw["title"].astype(str).where(raw["title"].notna(), "").to_numpy()
    for col in ("position", *SCORE_COLUMNS):
        if col not in raw.columns:
            continue
        values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if col == "position":
            bad |= (values < 1) | (np.nan_to_num(values) % 1 != 0)
        if bad.any():
            i = _first(bad)
            need = "an integer >= 1" if col == "position" else "a finite number >= 0"
            raise DataError(
                f"{source}, {where(i)}, column {col!r}: value {raw[col].iloc[i]!r} is not {need}; fix or drop the row"
            )
        out[col] = values.astype(np.int64) if col == "position" else values
    return out


def finish_split(table: pd.DataFrame, source: str, where: Where) -> pd.DataFrame:
    """A whole split's validated rows -> its pair table: absent columns derived (module docstring), one row per
    (query, product_id), query_id consistent with the query text; columns in PAIR_COLUMNS order."""
    dup = table.duplicated(["query", "product_id"], keep="first").to_numpy()
    if dup.any():
        i = _first(dup)
        q, p = table["query"].iat[i], table["product_id"].iat[i]
        j = _first(((table["query"] == q) & (table["product_id"] == p)).to_numpy())
        raise DataError(
            f"{source}, {where(i)}: duplicate (query, product_id) pair ({q!r}, {p!r}), first seen at "
            f"{where(j)}; keep one row per pair"
        )
    if "title" not in table.columns:
        table["title"] = ""
    if "position" not in table.columns:
        table["position"] = positions_by_score(table["query"], table["score_linear"])
    derived = reciprocal_and_no_score(table["position"].to_numpy())
    for col in ("score_reciprocal", "no_score"):
        if col not in table.columns:
            table[col] = derived[col].astype(np.float64)  # scores load as float64
    if "pair_id" not in table.columns:
        table["pair_id"] = np.arange(len(table)).astype(str).astype(object)
    if "query_id" in table.columns:
        _check_query_ids(table, source, where)
    else:
        table["query_id"] = derived_query_ids(table["query"])
    return table.loc[:, list(PAIR_COLUMNS)]


def _check_query_ids(table: pd.DataFrame, source: str, where: Where) -> None:
    """Queries are keyed by their text: a query_id column that is not one-to-one with the texts gets a warning
    naming both ids (or both texts) and is replaced by ids derived from the text."""
    pairs = table[["query", "query_id"]].drop_duplicates()
    for col in ("query", "query_id"):
        clash = pairs[pairs[col].duplicated(keep=False)]
        if clash.empty:
            continue
        a = clash.index[0]
        b = clash.index[1 + _first((clash[col].iloc[1:] == clash[col].iloc[0]).to_numpy())]
        if col == "query":
            what = (
                f"query {table['query'][a]!r} has query_id {table['query_id'][a]!r} at {where(a)} and "
                f"{table['query_id'][b]!r} at {where(b)}"
            )
        else:
            what = (
                f"query_id {table['query_id'][a]!r} names two queries: {table['query'][a]!r} at {where(a)} and "
                f"{table['query'][b]!r} at {where(b)}"
            )
        warnings.warn(
            f"{source}: {what}; queries are keyed by their text (as the official evaluator), so this "
            f"split's query_id is derived from the text instead",
            stacklevel=4,
        )
        table["query_id"] = derived_query_ids(table["query"])
        return


def check_in_corpus(table: pd.DataFrame, corpus: Corpus, source: str, where: Where) -> None:
    absent = ~table["product_id"].isin(corpus.products.index).to_numpy()
    if absent.any():
        i = _first(absent)
        raise DataError(
            f"{source}, {where(i)}, column 'product_id': product {table['product_id'].iat[i]!r} is "
            f"not in corpus half {corpus.half} ({absent.sum()} row(s) like this); the split and "
            f"corpus files must come from the same release"
        )


def check_disjoint(corpora: dict, describe: Callable[[int, str], str]) -> None:
    if len(corpora) == 2:
        common = corpora[1].products.index.intersection(corpora[2].products.index)
        if len(common):
            pid = common[0]
            raise DataError(
                f"product {pid!r} is in both corpus halves ({describe(1, pid)} and {describe(2, pid)}; "
                f"{len(common)} such id(s)); the halves of a release are disjoint: use files from one "
                f"release"
            )


def empty_file(path: Path) -> DataError:
    """The error for a 0-byte input file."""
    return DataError(
        f"{path}: empty file (0 bytes); re-extract or re-download it (or remove it to load the other splits)"
    )

"""From a shop's search log and product catalogue to a data folder in the Marqo-GS layout (`gcl-nb prepare`).

    report = prepare("log.csv", "catalogue.csv", image_root="images", score_column="clicks", out="data/shop")

Inputs (CSV, parquet or JSON lines, by file suffix; ids are read as text; CSV and JSON lines in `encoding`, UTF-8
by default; a CSV's delimiter is detected from its header (',', or ';', tab or '|' when it has no comma); header
names are stripped of spaces):
- pairs: one row per (query, product) judgement: `query`, `product_id` and the score column (clicks, purchases,
  a grade: higher is better; or a rank position: 1 is best).
- catalogue: `product_id`, `title`, `image` (a path relative to the image root, or an absolute path inside it)
  and any further text columns (description, brand, ...), which become document fields of the corpus. Its
  product id column may be named otherwise than the log's (`Columns.catalogue_product`).

What is written is the tarball layout of the release (parquet with the images and further fields inside, on
request; a product without image has a null image there), with the release's split procedure
(gcl_nb.data.gs.release_split): queries 80/20
(query_0 / query_1) and the catalogue's products 50/50 (corpus 1 / corpus 2), seeded; the four splits are the
rows of each (query side, product half); both corpus halves hold every usable catalogue product of their half,
judged or not (the parquet layout has no corpus files: its halves are the judged products); ground-truth files
in the official key form (gcl_nb.data.gs.release_writer). `image_local` holds the path relative to the image
root: pass the same `--image-root` to train and evaluate.

How the score becomes the release's columns (recorded in the report under "score"):
- a score (higher is better): `score_linear` = the score; `position` = its rank within the query's rows, 1 for
  the highest, ties in log order.
- a rank (`--score-is rank`, the default for a column named position or rank): `position` = the rank;
  `score_linear` = max rank + 1 - rank (linear in position as in the release, where it is 101 - position).
`score_reciprocal` = 1 / position and `no_score` = 1, as in the release.

Dropped and counted in the report: rows with an empty query or product id, rows whose product is not in the
catalogue, duplicate (query, product) pairs (the best score is kept), rows of products with neither a title
nor a readable image, and queries left with fewer than two judged products. Products with an unreadable image
keep their other fields. Unusable input (a missing column, a non-numeric or negative score, a score beyond
2**53, a duplicate product id, an image path outside the image root or a URL: nothing is downloaded) raises a
DataError naming the file, line and what to do, and an unusable argument a SettingError, before anything is
written. The folder is written whole or not at all (into `.<name>.partial`, renamed when complete); its report
(PrepareReport), written last, lists its files and the seconds each stage took: read -> filter -> split -> write.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from gcl_nb.data.atomic_files import WRITER_FILE, atomic_write_text, folder_written_whole
from gcl_nb.data.gs.parquet_write import export_parquet
from gcl_nb.data.gs.release_split import (
    dev_queries,
    linear_from_position,
    positions_by_score,
    product_halves,
    query_sides,
    reciprocal_and_no_score,
    split_side_and_half,
)
from gcl_nb.data.gs.release_writer import write_layout
from gcl_nb.data.gs.validation import csv_line, derived_query_ids
from gcl_nb.data.schema import (
    PAIR_COLUMNS,
    PREPARE_REPORT,
    SPLITS,
    DataError,
    SettingError,
    check_choice,
    check_whole_number,
)

SCORE_KINDS = ("auto", "score", "rank")
LAYOUTS = ("tarball", "parquet")
RANK_COLUMN_NAMES = ("position", "rank")
MIN_JUDGED = 2
#: the largest whole score (or rank) the split files hold exactly: 2**53, beyond which float64 (CSV and parquet
#: readers) rounds whole numbers
MAX_EXACT_SCORE = 2**53
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class Columns:
    """Column names of the inputs; `catalogue_product` names the catalogue's product id column when it differs
    from the log's (`product`)."""

    query: str = "query"
    product: str = "product_id"
    title: str = "title"
    image: str = "image"
    catalogue_product: str | None = None


@dataclass(frozen=True)
class _Inputs:
    """The input files and how to read them (settings checked)."""

    pairs: Path
    catalogue: Path
    image_root: Path
    columns: Columns
    score_column: str
    score_kind: str
    encoding: str


@dataclass
class _Catalogue:
    """The usable products (product_id, title, image_local, further fields), every catalogue id and the further
    field names."""

    products: pd.DataFrame
    ids: set
    extra: list[str]


@dataclass
class PrepareReport:
    """What prepare read, dropped, split and wrote (written to prepare_report.json): the inputs and settings; how
    the score became the release's columns; the log's rows read, dropped per reason and kept; the catalogue's
    products and missing fields; per split its queries, rows and products; warnings; the folder's files; and the
    seconds each stage took (read, filter, split, write)."""

    inputs: dict
    score: dict = field(default_factory=dict)
    pairs: dict = field(default_factory=dict)
    catalogue: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings_s[stage] = round(time.perf_counter() - start, 3)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)


#: delimiters a CSV header may use instead of commas (detected when its header has no comma)
OTHER_DELIMITERS = (";", "\t", "|")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
NEWLINE = b"\n"


def _csv_delimiter(path: Path, encoding: str) -> str:
    """',' unless the header line has no comma but one of OTHER_DELIMITERS (the most frequent)."""
    with open(path, encoding=encoding, errors="replace") as f:
        header = f.readline()
    counts = {d: header.count(d) for d in OTHER_DELIMITERS}
    best = max(counts, key=counts.get)
    return best if "," not in header and counts[best] else ","


def _read_table(path: Path, role: str, encoding: str) -> pd.DataFrame:
    """The table (CSV: text cells; its delimiter detected from the header) with header names stripped of
    spaces. DataError naming the file, and the line of a line that does not parse or decode."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (the {role} table)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                sep=_csv_delimiter(path, encoding),
                encoding=encoding,
            )
        elif suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        elif suffix in JSON_SUFFIXES:
            table = pd.read_json(path, lines=True, dtype=False, convert_dates=False, encoding=encoding)
        else:
            raise DataError(f"{path}: unknown table format {suffix!r}; give the {role} as .csv, .parquet or .jsonl")
    except UnicodeDecodeError as e:
        raise _undecodable(path, role, encoding, e) from None
    except (ValueError, OSError, pd.errors.ParserError) as e:
        if suffix in JSON_SUFFIXES and not isinstance(e, DataError):
            _raise_bad_json_line(path, role, encoding)
        raise DataError(f"{path}: cannot read the {role} table ({type(e).__name__}: {e})") from None
    return table.rename(columns=lambda name: str(name).strip())


def _undecodable(path: Path, role: str, encoding: str, error: UnicodeDecodeError) -> DataError:
    """The error for a file that is not in `encoding`, naming the line of the first byte that does not decode."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
        where = ""
    except UnicodeDecodeError as e:
        where = f", line {data.count(NEWLINE, 0, e.start) + 1}"
    return DataError(
        f"{path}{where}: the {role} table is not {encoding} ({error.reason}); pass its encoding, e.g. "
        f"--encoding latin-1 (or cp1252, utf-16)"
    )


def _raise_bad_json_line(path: Path, role: str, encoding: str) -> None:
    """DataError naming the first line of a JSON lines file that is not a JSON object (returns when every line is
    one: the error lies elsewhere)."""
    with open(path, encoding=encoding) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                problem = f"not valid JSON ({e.msg}, column {e.colno})"
                if line.lstrip().startswith("["):
                    problem += ": a JSON array? give one JSON object per line (JSON lines)"
            else:
                if isinstance(record, dict):
                    continue
                problem = f"a JSON {type(record).__name__}, not an object {{column: value}}"
            raise DataError(f"{path}, line {number}: {problem}; fix or remove that line of the {role} table")


def _where(path: Path, i: int) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return f"{path}, line {csv_line(path, i)}"
    return f"{path}, {'line' if suffix in ('.jsonl', '.ndjson', '.json') else 'row'} {i + 1}"


def _require_columns(table: pd.DataFrame, path: Path, needed: dict[str, str]) -> None:
    for option, column in needed.items():
        if column not in table.columns:
            raise DataError(
                f"{path}: no column {column!r} (columns: {', '.join(map(str, table.columns))}); name it with {option}"
            )


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text ("" for missing); whole floats (ids read from parquet/JSON) lose their '.0'."""

    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return values.map(one)
    codes, uniques = pd.factorize(values)  # text (a CSV's cells): each distinct value stripped once
    return pd.Series(uniques.str.strip().to_numpy(dtype=object)[codes], index=values.index)


def _scores(pairs: pd.DataFrame, path: Path, column: str, kind: str) -> np.ndarray:
    raw = pairs[column]
    numbers = pd.to_numeric(raw.where(raw.astype(str).str.strip() != "", np.nan), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(numbers)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{_where(path, i)}: score column {column!r} holds {raw.iloc[i]!r}, not a number "
            f"({bad.sum()} rows like this); fill it in or drop those rows"
        )
    if kind == "score" and (numbers < 0).any():
        i = int(np.flatnonzero(numbers < 0)[0])
        raise DataError(
            f"{_where(path, i)}: score {numbers[i]:g} is negative; scores are weights (higher is "
            f"better, >= 0). If {column!r} is a rank, pass --score-is rank"
        )
    too_large = np.abs(numbers) > MAX_EXACT_SCORE
    if too_large.any():
        i = int(np.flatnonzero(too_large)[0])
        raise DataError(
            f"{_where(path, i)}: {'rank' if kind == 'rank' else 'score'} {raw.iloc[i]} in column {column!r} is "
            f"beyond {MAX_EXACT_SCORE:,} (2**53), the largest whole number the split files hold exactly "
            f"({too_large.sum()} rows like this); scale the column down (e.g. divide it by 1000) or drop those rows"
        )
    if kind == "rank" and ((numbers < 1) | (numbers % 1 != 0)).any():
        i = int(np.flatnonzero((numbers < 1) | (numbers % 1 != 0))[0])
        raise DataError(
            f"{_where(path, i)}: rank {numbers[i]:g} is not a whole number >= 1 (1 = top); if "
            f"{column!r} is a score (higher is better), pass --score-is score"
        )
    return numbers


def _image_paths(catalogue: pd.DataFrame, path: Path, column: str, image_root: Path) -> pd.Series:
    """Each product's image path relative to the image root ("" without one); DataError for a URL or a path
    leaving the root."""
    root = image_root.resolve()
    out = []
    for i, value in enumerate(_text(catalogue[column])):
        if not value:
            out.append("")
            continue
        if _URL.match(value):
            raise DataError(
                f"{_where(path, i)}: image {value!r} is a URL; nothing is downloaded: download the "
                f"images under the image root and give their paths relative to it"
            )
        full = Path(value) if Path(value).is_absolute() else image_root / value
        resolved = full.resolve()
        if resolved != root and root not in resolved.parents:
            raise DataError(
                f"{_where(path, i)}: image {value!r} is outside the image root {image_root}; give "
                f"paths inside --image-root (relative to it, or absolute under it)"
            )
        out.append(resolved.relative_to(root).as_posix())
    return pd.Series(out, index=catalogue.index)


def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:  # PIL raises several types for missing or corrupt files
        return False


def _read_catalogue(inputs: _Inputs, report: PrepareReport) -> _Catalogue:
    """The catalogue; its counts in the report."""
    path, columns, image_root = inputs.catalogue, inputs.columns, inputs.image_root
    raw = _read_table(path, "catalogue", inputs.encoding)
    product = columns.catalogue_product or columns.product
    _require_columns(
        raw,
        path,
        {"--catalogue-product-column": product, "--title-column": columns.title, "--image-column": columns.image},
    )
    ids = _text(raw[product])
    if (ids == "").any():
        i = int(np.flatnonzero((ids == "").to_numpy())[0])
        raise DataError(f"{_where(path, i)}: empty product id; every catalogue row needs one")
    duplicated = ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = np.flatnonzero(duplicated)
        twin = first[ids.iloc[first] == ids.iloc[first[0]]]
        raise DataError(
            f"{_where(path, int(twin[1]))}: product id {ids.iloc[first[0]]!r} appears again (first at "
            f"{_where(path, int(twin[0]))}; {len(set(ids[duplicated]))} ids repeat); keep one row per "
            f"product"
        )
    images = _image_paths(raw, path, columns.image, image_root)
    named = images != ""
    if not named.any():
        raise DataError(
            f"{path}: image column {columns.image!r} is empty in every row; give each product's image path "
            f"(relative to --image-root), or name the column that holds them with --image-column"
        )
    readable = pd.Series(False, index=raw.index)
    readable[named] = [_readable(image_root / p) for p in images[named]]
    unreadable = named & ~readable
    extra = [str(c) for c in raw.columns if c not in (product, columns.title, columns.image)]
    clashes = [c for c in extra if c in ("half", "image_local", "image", *PAIR_COLUMNS)]
    if clashes:
        raise DataError(
            f"{path}: column {clashes[0]!r} would clash with the corpus's own fields or a split column; rename it"
        )
    products = pd.DataFrame(
        {"product_id": ids, "title": _text(raw[columns.title]), "image_local": images.where(readable, "")}
    )
    for name in extra:
        products[name] = _text(raw[name])
    has_field = (products.drop(columns=["product_id"]) != "").any(axis=1)
    counts = report.catalogue
    counts.update(
        {
            "products_read": len(raw),
            "fields": ["title", "image", *extra],
            "images_unreadable": int(unreadable.sum()),
            "images_unreadable_examples": [str(image_root / p) for p in images[unreadable].head(5)],
            "without_image": int((~readable).sum()),
            "without_title": int((products["title"] == "").sum()),
            "without_any_field": int((~has_field).sum()),
        }
    )
    for name in extra:
        counts[f"without_{name}"] = int((products[name] == "").sum())
    counts["products_in_corpus"] = int(has_field.sum())
    return _Catalogue(products[has_field.to_numpy()].reset_index(drop=True), set(ids), extra)


def _score_kind(column: str, kind: str) -> str:
    check_choice("score_is (--score-is)", kind, SCORE_KINDS)
    if kind == "auto":
        return "rank" if column.lower() in RANK_COLUMN_NAMES else "score"
    return kind


def _score_columns(rows: pd.DataFrame, column: str, kind: str) -> tuple[pd.DataFrame, dict]:
    """rows (query, product_id, score: one row per pair) -> + position, score_linear, score_reciprocal, no_score."""
    if kind == "rank":
        position = rows["score"].to_numpy(dtype=np.int64)
        max_rank = int(position.max())
        linear = linear_from_position(position, max_rank)
        how = {
            "position": f"the rank in {column!r} (1 = top)",
            "score_linear": f"{max_rank + 1} - position (the largest rank + 1 minus the rank; the release has "
            f"101 - position)",
        }
    else:
        position = positions_by_score(rows["query"], rows["score"])
        whole = bool((rows["score"] % 1 == 0).all())
        linear = rows["score"].astype(np.int64) if whole else rows["score"]
        how = {
            "position": f"rank of {column!r} within the query's rows (1 = highest; ties in log order)",
            "score_linear": f"{column!r} itself (higher is better)",
        }
    out = rows.assign(position=position, score_linear=linear, **reciprocal_and_no_score(position))
    return out, {
        "column": column,
        "read_as": kind,
        **how,
        "score_reciprocal": "1 / position",
        "no_score": "1",
        "grades": "evaluation grades are score_linear min-max scaled per split to 1..100, as the official evaluation",
    }


def _split_report(rows: pd.DataFrame, products: pd.DataFrame, top_q: int, batch_size: int) -> tuple[dict, list]:
    splits, warnings = {}, []
    for split in SPLITS:
        side, half = split_side_and_half(split)
        own = rows.loc[(rows["side"] == side) & (rows["half"] == half), ["query", "product_id"]]
        n_queries = own["query"].nunique()
        splits[split] = {
            "queries": int(n_queries),
            "rows": len(own),
            "products_judged": int(own["product_id"].nunique()),
            "corpus_products": int((products["half"] == half).sum()),
        }
        if 0 < n_queries < top_q:
            warnings.append(
                f"{split}: {n_queries} queries, fewer than top_q={top_q}: the protocol evaluates all "
                f"{n_queries} (sampling needs more)"
            )
    empty = [split for split, counts in splits.items() if counts["queries"] == 0]
    if empty:
        others = " ".join(split for split in SPLITS if split not in empty)
        warnings.append(
            f"{', '.join(empty)}: no rows; evaluating {'it' if len(empty) == 1 else 'them'} fails: evaluate the "
            f"others (--splits {others}) or prepare a larger log"
        )
    n_train = splits["in_domain"]["queries"]
    if n_train < batch_size:
        warnings.append(
            f"in_domain: {n_train} training queries cannot fill one batch of {batch_size} distinct "
            f"queries (the cpu preset): train with --batch-size {max(2, n_train // 2)} or smaller"
        )
    return splits, warnings


def _read_log(inputs: _Inputs) -> pd.DataFrame:
    """The log's rows: query, product_id (text) and score (a number)."""
    log = _read_table(inputs.pairs, "pairs", inputs.encoding)
    columns = inputs.columns
    _require_columns(
        log,
        inputs.pairs,
        {"--query-column": columns.query, "--product-column": columns.product, "--score-column": inputs.score_column},
    )
    scores = _scores(log, inputs.pairs, inputs.score_column, inputs.score_kind)
    return pd.DataFrame(
        {"query": _text(log[columns.query]), "product_id": _text(log[columns.product]), "score": scores}
    )


def _read(inputs: _Inputs, report: PrepareReport) -> tuple[pd.DataFrame, _Catalogue]:
    """Stage 1: the log's rows and the catalogue."""
    rows = _read_log(inputs)
    catalogue = _read_catalogue(inputs, report)
    if rows.empty:
        raise DataError(f"{inputs.pairs}: the log holds a header and no rows; give it its (query, product, score) rows")
    return rows, catalogue


def _filter(rows: pd.DataFrame, catalogue: _Catalogue, inputs: _Inputs, report: PrepareReport) -> pd.DataFrame:
    """Stage 2: the rows kept (module docstring), one per (query, product), in log order; counts in the report."""
    counts = report.pairs
    counts["rows_read"] = len(rows)
    kept = ~((rows["query"] == "") | (rows["product_id"] == "")).to_numpy()
    counts["empty_query_or_product"] = int((~kept).sum())
    if not kept.any():
        raise DataError(
            f"{inputs.pairs}: every row has an empty query or product id (columns {inputs.columns.query!r}, "
            f"{inputs.columns.product!r}); name the columns that hold them with --query-column / --product-column"
        )
    catalogued = rows["product_id"].isin(catalogue.ids).to_numpy()
    counts["product_not_in_catalogue"] = int((kept & ~catalogued).sum())
    if not (kept & catalogued).any():
        raise DataError(
            f"{inputs.pairs}: none of its product ids is in {inputs.catalogue} (e.g. "
            f"{rows['product_id'].iloc[int(np.argmax(kept))]!r} here, {min(catalogue.ids)!r} there); check that "
            f"both files hold the same ids (--product-column names the log's column, --catalogue-product-column "
            f"the catalogue's)"
        )
    kept &= catalogued
    usable = rows["product_id"].isin(set(catalogue.products["product_id"])).to_numpy()
    counts["product_without_any_field"] = int((kept & ~usable).sum())
    kept &= usable
    if not kept.any():
        raise DataError(
            f"{inputs.catalogue}: no judged product has a title or a readable image; check --title-column, "
            f"--image-column and --image-root"
        )
    query_codes, product_codes = pd.factorize(rows["query"])[0], pd.factorize(rows["product_id"])[0]
    pairs = query_codes * (int(product_codes.max()) + 1) + product_codes
    candidates = np.flatnonzero(kept)
    scores = rows["score"].to_numpy()[candidates]
    best_first = candidates[np.argsort(scores if inputs.score_kind == "rank" else -scores, kind="stable")]
    duplicate = best_first[pd.Series(pairs[best_first]).duplicated().to_numpy()]  # all but the best of a pair
    counts["duplicate_pairs"] = len(duplicate)
    kept[duplicate] = False
    judged = np.bincount(query_codes[kept], minlength=int(query_codes.max()) + 1)
    counts["queries_with_fewer_than_2_judged"] = int(((judged > 0) & (judged < MIN_JUDGED)).sum())
    too_few = kept & (judged[query_codes] < MIN_JUDGED)
    counts["rows_of_those_queries"] = int(too_few.sum())
    rows = rows[kept & ~too_few].reset_index(drop=True)
    counts["rows_kept"] = len(rows)
    if rows.empty:
        raise DataError(
            f"{inputs.pairs}: every query has fewer than two judged products "
            f"({counts['queries_with_fewer_than_2_judged']} queries); the evaluation ranks a query's judged "
            f"products against each other: give a log with {MIN_JUDGED} or more judged products per query"
        )
    return rows


def _split(
    rows: pd.DataFrame, products: pd.DataFrame, inputs: _Inputs, seed: int, report: PrepareReport
) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """Stage 3: the release's score columns and split (gcl_nb.data.gs.release_split), seeded: (rows with every
    split column, their query's side and their product's half; products with their half; the dev queries)."""
    rows, report.score = _score_columns(rows, inputs.score_column, inputs.score_kind)
    rng = np.random.default_rng(seed)
    query_codes, queries = pd.factorize(rows["query"])
    query_order = np.argsort(queries.to_numpy(dtype=object), kind="stable")  # the draws follow sorted order
    side = np.empty(len(queries), dtype=np.int64)
    side[query_order] = query_sides(len(queries), rng)
    product_order = np.argsort(products["product_id"].to_numpy(dtype=object), kind="stable")
    half = np.empty(len(products), dtype=np.int64)
    half[product_order] = product_halves(len(products), rng)
    products = products.assign(half=half)
    dev = set(queries[query_order][dev_queries(len(queries), rng)])
    product_rows = pd.Index(products["product_id"]).get_indexer(rows["product_id"])
    rows = rows.assign(
        title=products["title"].to_numpy()[product_rows],
        image_local=products["image_local"].to_numpy()[product_rows],
        pair_id=np.arange(len(rows)),
        query_id=derived_query_ids(rows["query"]),
        side=side[query_codes],
        half=half[product_rows],
    )
    return rows, products, dev


def _write(
    out: Path,
    layout: str,
    rows: pd.DataFrame,
    products: pd.DataFrame,
    extra: list[str],
    dev: set[str],
    image_root: Path,
    report: PrepareReport,
) -> None:
    """Stage 4: the folder `out`, written whole (its report last, listing its files)."""
    entries = products[["product_id", "half", "title", "image_local", *extra]]
    entries = entries.astype(object).where(entries != "", None)  # a missing field is null in the corpus file
    with folder_written_whole(out, "gcl-nb prepare") as partial:
        with report.timed("write"):
            if layout == "tarball":
                write_layout(partial, rows, entries, dev)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    write_layout(Path(tmp), rows, entries, dev)
                    export_parquet(tmp, partial, image_root=image_root)
            written = (f for f in partial.rglob("*") if f.is_file() and f.name != WRITER_FILE)
            report.files = sorted(f.relative_to(partial).as_posix() for f in written)
        atomic_write_text(report.to_json(), partial / PREPARE_REPORT)


def _checked_inputs(
    pairs, catalogue, image_root, score_column: str, kind: str, out, columns: Columns, encoding: str
) -> tuple[_Inputs, Path]:
    """The inputs and the output folder, with the encoding, the output folder and the image root checked."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SettingError(
            f"encoding (--encoding)={encoding!r}: not a known text encoding; e.g. utf-8, latin-1"
        ) from None
    out, image_root = Path(out), Path(image_root)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SettingError(f"{out}: exists and is not an empty folder; choose a new --out or remove it")
    if not image_root.is_dir():
        raise DataError(
            f"{image_root}: the image root is not a folder; pass the folder the catalogue's image "
            f"paths are relative to (--image-root)"
        )
    return _Inputs(Path(pairs), Path(catalogue), image_root, columns, score_column, kind, encoding), out


def prepare(
    pairs,
    catalogue,
    image_root,
    score_column: str,
    out,
    *,
    score_is: str = "auto",
    seed: int = 0,
    layout: str = "tarball",
    columns: Columns = Columns(),
    top_q: int = 2000,
    batch_size: int = 128,
    encoding: str = "utf-8",
) -> PrepareReport:
    """Write the data folder `out` (see the module docstring) and return the report (also in
    `out/prepare_report.json`). `top_q` / `batch_size`: the evaluation's sampled queries and the training batch
    the report checks the splits against. `encoding`: the text encoding of CSV and JSON lines inputs.

    Stages: read -> filter -> split -> write. The folder is written whole or not at all
    (gcl_nb.data.atomic_files.folder_written_whole); its report, written last, lists every file of it (`files`),
    which the loader checks are all there."""
    check_choice("layout (--layout)", layout, LAYOUTS)
    kind = _score_kind(score_column, score_is)
    check_whole_number("seed (--seed)", seed, minimum=0)
    check_whole_number("top_q (--top-q)", top_q, minimum=1, also=(-1, "every query"))
    check_whole_number("batch_size (--batch-size)", batch_size, minimum=2)
    inputs, out = _checked_inputs(pairs, catalogue, image_root, score_column, kind, out, columns, encoding)
    report = PrepareReport(
        inputs={
            "pairs": str(inputs.pairs),
            "catalogue": str(inputs.catalogue),
            "image_root": str(inputs.image_root),
            "seed": seed,
            "layout": layout,
        }
    )
    with report.timed("read"):
        rows, catalogue_read = _read(inputs, report)
    with report.timed("filter"):
        rows = _filter(rows, catalogue_read, inputs, report)
    with report.timed("split"):
        rows, products, dev = _split(rows, catalogue_read.products, inputs, seed, report)
        report.splits, report.warnings = _split_report(rows, products, top_q, batch_size)
    _write(out, layout, rows, products, catalogue_read.extra, dev, inputs.image_root, report)
    return report


def format_report(report: PrepareReport) -> str:
    """The report as a few lines of text."""
    p, c, s = report.pairs, report.catalogue, report.score
    lines = [
        f"pairs: {p['rows_read']:,} rows read, {p['rows_kept']:,} kept; dropped: "
        f"{p['product_not_in_catalogue']:,} product not in the catalogue, {p['duplicate_pairs']:,} duplicate "
        f"pairs (best score kept), {p['empty_query_or_product']:,} empty query or product id, "
        f"{p['product_without_any_field']:,} product with no title and no readable image, "
        f"{p['rows_of_those_queries']:,} rows of {p['queries_with_fewer_than_2_judged']:,} queries with fewer "
        f"than 2 judged products",
        f"catalogue: {c['products_read']:,} products, {c['products_in_corpus']:,} in the corpus; "
        f"{c['images_unreadable']:,} unreadable images (kept without image), {c['without_image']:,} without "
        f"image, {c['without_title']:,} without title; document fields: {', '.join(c['fields'])}",
        f"score: {s['column']!r} read as a {s['read_as']}: position = {s['position']}; score_linear = "
        f"{s['score_linear']}",
        "split            queries    rows  judged products  corpus products",
    ]
    for split, n in report.splits.items():
        lines.append(
            f"{split:<15} {n['queries']:>8,} {n['rows']:>7,} {n['products_judged']:>16,} {n['corpus_products']:>16,}"
        )
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines)

"""Load Marqo-GS-10M (or SynthShop) in either release layout into one representation.

Tarball layout: `query_{0,1}_product_id_{0,1}.csv` split tables, `corpus_1.json` / `corpus_2.json`
({product_id: {"title", "image_local"}}) and an image folder. `image_local` holds the authors' absolute paths
(`/input/images/NAME.jpg`): each image is resolved by its FILE NAME under `image_root` (default
`<root>/images`); nothing outside that folder is opened (names like '..' and symlinks leaving it are rejected)
and no file is rewritten.
Parquet layout (the Hugging Face release): shards per split with an `image` column (struct {bytes, path}, or plain
binary bytes), under `<root>/<split>/*.parquet`, `<root>/data/<split>-*.parquet` or `<root>/<split>-*.parquet` (also
`default/<split>/` and hyphenated split names). Corpus half 1 = the products of in_domain + novel_query, half 2 =
novel_document + zero_shot. Only the non-image columns are read up front; images are read per row group on demand
(a small LRU of row groups), so memory stays bounded by the pair tables.

A split file needs only REQUIRED_COLUMNS (query, product_id, score_linear); the other PAIR_COLUMNS are derived when
absent (`GSData.derived_columns`): query_id from the query text (queries are keyed by their text, as the official
evaluator does), pair_id = row number, title from the corpus file (tarball) or empty (parquet), position = rank of
score_linear within the query, score_reciprocal = 1 / position, no_score = 1. A missing or empty title (or image,
with on_bad_image="skip") loads: the field gets weight 0 in the fused embedding; `GSData.missing` counts them.
Ids (query_id, product_id, pair_id) are strings everywhere. Errors name the file, the physical line (CSV) or row
(parquet) and what to do.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from gcl_nb.data.options import DataOptions, check_corpus_scope
from gcl_nb.data.schema import (ID_COLUMNS, PAIR_COLUMNS, REQUIRED_COLUMNS, SCORE_COLUMNS, SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS,
                     DataError, check_split)

PARQUET_ROW_GROUP_CACHE = 4
Where = Callable[[int], str]


# ----------------------------------------------------------------------------------------------- validation
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
        raise DataError(f"{source}: missing column(s) {missing}; a split table needs {list(REQUIRED_COLUMNS)} "
                        f"({optional} are derived when absent); found {list(raw.columns)}. Use the release files")
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
            raise DataError(f"{source}, {where(i)}, column {col!r}: value {raw[col].iloc[i]!r} is not {need}; "
                            f"fix or drop the row")
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
        raise DataError(f"{source}, {where(i)}: duplicate (query, product_id) pair ({q!r}, {p!r}), first seen at "
                        f"{where(j)}; keep one row per pair")
    if "title" not in table.columns:
        table["title"] = ""
    if "position" not in table.columns:
        rank = table.groupby("query", sort=False)["score_linear"].rank(method="first", ascending=False)
        table["position"] = rank.to_numpy(dtype=np.int64)
    if "score_reciprocal" not in table.columns:
        table["score_reciprocal"] = 1.0 / table["position"].to_numpy(dtype=np.float64)
    if "no_score" not in table.columns:
        table["no_score"] = 1.0
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
            what = (f"query {table['query'][a]!r} has query_id {table['query_id'][a]!r} at {where(a)} and "
                    f"{table['query_id'][b]!r} at {where(b)}")
        else:
            what = (f"query_id {table['query_id'][a]!r} names two queries: {table['query'][a]!r} at {where(a)} and "
                    f"{table['query'][b]!r} at {where(b)}")
        warnings.warn(f"{source}: {what}; queries are keyed by their text (as the official evaluator), so this "
                      f"split's query_id is derived from the text instead", stacklevel=4)
        table["query_id"] = derived_query_ids(table["query"])
        return


def check_in_corpus(table: pd.DataFrame, corpus: "Corpus", source: str, where: Where) -> None:
    absent = ~table["product_id"].isin(corpus.products.index).to_numpy()
    if absent.any():
        i = _first(absent)
        raise DataError(f"{source}, {where(i)}, column 'product_id': product {table['product_id'].iat[i]!r} is "
                        f"not in corpus half {corpus.half} ({absent.sum()} row(s) like this); the split and "
                        f"corpus files must come from the same release")


def _check_disjoint(corpora: dict, describe: Callable[[int, str], str]) -> None:
    if len(corpora) == 2:
        common = corpora[1].products.index.intersection(corpora[2].products.index)
        if len(common):
            pid = common[0]
            raise DataError(f"product {pid!r} is in both corpus halves ({describe(1, pid)} and {describe(2, pid)}; "
                            f"{len(common)} such id(s)); the halves of a release are disjoint: use files from one "
                            f"release")


# ------------------------------------------------------------------------------------------------ images
def image_name(image_local: str) -> str:
    """The file name of an `image_local` path (POSIX or Windows separators)."""
    return PurePosixPath(str(image_local).replace("\\", "/")).name


class FolderImages:
    """Images as files directly under `root`, found by file name; never opens anything outside `root`."""

    def __init__(self, root: Path, names: dict[str, str]):
        self.root, self.names = Path(root), names
        self._real_root = self.root.resolve()

    def path(self, product_id: str) -> Path:
        name = self.names[product_id]
        if name in ("", ".", "..") or "/" in name or "\0" in name:
            raise DataError(f"product {product_id!r}: image name {name!r} is not a plain file name under "
                            f"{self.root}; fix image_local in the corpus file")
        path = self.root / name
        real = path.resolve()
        if real.parent != self._real_root and self._real_root not in real.parents:
            raise DataError(f"product {product_id!r}: image {path} is a link leading outside the image root "
                            f"{self.root} ({real}); refusing to open it")
        return path

    def present(self) -> set[str]:
        """File names under root (one directory listing, so millions of files are checked quickly)."""
        if not self.root.is_dir():
            return set()
        with os.scandir(self.root) as it:
            return {e.name for e in it if e.is_file() and e.stat().st_size > 0}

    def describe(self, product_id: str) -> str:
        return str(self.root / self.names.get(product_id, "?"))

    def read(self, product_id: str) -> bytes:
        path = self.path(product_id)
        try:
            return path.read_bytes()
        except OSError as e:
            raise DataError(f"product {product_id!r}: cannot read image file {path} ({e.strerror or e}); "
                            f"check image_root or pass on_bad_image='skip'") from None


class ParquetImages:
    """Image bytes inside parquet shards, located by (file, row group, row) per product (numpy arrays, so
    millions of products cost a few bytes each); row groups are read on demand, the last few kept (LRU)."""

    def __init__(self, files: list[Path], locations: pd.DataFrame):
        self.files = files
        self.index = locations.index
        self.file, self.group, self.row = (locations[c].to_numpy(np.int64) for c in ("file", "group", "row"))
        self._groups: OrderedDict = OrderedDict()
        self._open: dict[int, pq.ParquetFile] = {}

    def _where(self, product_id: str) -> tuple[int, int, int]:
        i = self.index.get_loc(product_id)
        return int(self.file[i]), int(self.group[i]), int(self.row[i])

    def describe(self, product_id: str) -> str:
        f, g, r = self._where(product_id)
        return f"{self.files[f]} (row group {g}, row {r})"

    def _read_group(self, f: int, g: int):
        if f not in self._open:  # parsing a footer costs ~ms per call with many row groups: keep files open
            self._open[f] = pq.ParquetFile(self.files[f])
        column = self._open[f].read_row_group(g, columns=["image"]).column("image").combine_chunks()
        return pc.struct_field(column, "bytes") if pa.types.is_struct(column.type) else column

    def _group(self, f: int, g: int):
        key = (f, g)
        if key not in self._groups:
            self._groups[key] = self._read_group(f, g)
            if len(self._groups) > PARQUET_ROW_GROUP_CACHE:
                self._groups.popitem(last=False)
        self._groups.move_to_end(key)
        return self._groups[key]

    def read(self, product_id: str) -> bytes:
        f, g, r = self._where(product_id)
        value = self._group(f, g)[r].as_py()
        if not value:
            raise DataError(f"product {product_id!r}: no image bytes in {self.describe(product_id)}; "
                            f"pass on_bad_image='skip' to load the data without it")
        return value

    def empty_rows(self) -> list[str]:
        """Products whose image bytes are null/empty, streaming each needed row group once."""
        bad = []
        keys = self.file * (1 << 32) + self.group
        for key in np.unique(keys):
            members = np.flatnonzero(keys == key)
            col = self._read_group(int(key >> 32), int(key & 0xFFFFFFFF))
            lengths = pc.binary_length(col).fill_null(0).to_numpy(zero_copy_only=False)
            bad.extend(self.index[members[lengths[self.row[members]] == 0]])
        return bad


def decode_image(data: bytes, product_id: str, where: str) -> Image.Image:
    try:
        with Image.open(BytesIO(data)) as img:
            return img.convert("RGB")
    except Exception as e:  # PIL raises several types for corrupt data
        raise DataError(f"product {product_id!r}: image {where} cannot be decoded ({type(e).__name__}: {e}); "
                        f"replace the file or pass on_bad_image='skip'") from None


# ------------------------------------------------------------------------------------------------ corpus
@dataclass
class Corpus:
    """The documents a split is evaluated against: `.products` (DataFrame indexed by product_id, column title)
    and lazy images. `split` is None for a whole corpus half, else the split whose own rows it holds."""
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
            raise DataError(f"product {product_id!r}: image {self.images.describe(product_id)} was skipped at "
                            f"load time (missing or unreadable); check has_image() first")
        return decode_image(self.images.read(product_id), product_id, self.images.describe(product_id))

    def restricted(self, split: str, product_ids) -> "Corpus":
        """The products of one split's rows (first-appearance order), sharing this half's images."""
        ids = pd.Index(pd.unique(np.asarray(product_ids, dtype=object)))
        return Corpus(self.half, self.products.loc[ids], self.images, self.without_image.intersection(ids), split)


# ------------------------------------------------------------------------------------------------ GSData
@dataclass
class GSData:
    """A loaded subset: per split the pair table, per corpus half a Corpus.

    `corpus_scope` "half" (corpus_for(split) = the split's corpus half) or "split" (the products of the split's
    own rows). `bad_images` lists products whose image was missing/unreadable and skipped (on_bad_image="skip");
    their rows stay in the split tables and `corpus.has_image(pid)` is False. `missing`: per split (rows) and per
    corpus half (products) the count without a title, without an image, and without either. `derived_columns`:
    per split the PAIR_COLUMNS its files lack (derived, see the module docstring)."""
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
        return tuple(s for s in SPLITS if s in self.tables)

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
        counts[name] = {"rows": len(titles), "no_title": int(no_title.sum()), "no_image": int(no_image.sum()),
                        "no_field": int((no_title & no_image).sum())}
    return pd.DataFrame.from_dict(counts, orient="index", columns=["rows", "no_title", "no_image", "no_field"])


# ------------------------------------------------------------------------------------------------ loading
def _empty_file(path: Path) -> DataError:
    return DataError(f"{path}: empty file (0 bytes); re-extract or re-download it (or remove it to load the "
                     f"other splits)")


def _read_csv_table(path: Path, corpus: Corpus) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """A split CSV -> (pair table, the PAIR_COLUMNS the file lacks); titles absent from it come from the corpus."""
    if path.stat().st_size == 0:
        raise _empty_file(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise _empty_file(path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable CSV ({e}); re-extract the release") from None

    def where(i: int) -> str:
        return f"line {csv_line(path, i)}"

    table = validate_pairs(raw, str(path), where)
    check_in_corpus(table, corpus, str(path), where)
    if "title" not in table.columns:
        table["title"] = corpus.products["title"].reindex(table["product_id"]).to_numpy()
    return finish_split(table, str(path), where), tuple(c for c in PAIR_COLUMNS if c not in raw.columns)


def _read_corpus_json(path: Path, half: int, image_root: Path) -> Corpus:
    """corpus_<half>.json -> Corpus (products with title and image_local; a missing title becomes "")."""
    if not path.is_file():
        raise DataError(f"{path}: corpus file missing; the tarball layout needs corpus_{half}.json beside the "
                        f"split CSVs")
    if path.stat().st_size == 0:
        raise _empty_file(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno} ({e.msg}); re-extract the release") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object {{product_id: {{title, image_local}}}}")
    ids, titles, images = [], [], []
    for pid, entry in data.items():
        if not isinstance(entry, dict):
            raise DataError(f"{path}, product {pid!r}: expected an object {{title, image_local}}, got "
                            f"{type(entry).__name__}; fix the entry")
        title = entry.get("title")
        ids.append(str(pid))
        titles.append(title if isinstance(title, str) else "")
        images.append(str(entry.get("image_local") or ""))
    products = pd.DataFrame({"title": titles, "image_local": images}, index=pd.Index(ids, name="product_id"))
    names = {pid: image_name(im) for pid, im in zip(ids, images) if im}
    return Corpus(half, products, FolderImages(image_root, names))


def _load_tarball(root: Path, image_root: Path, wanted: tuple[str, ...]):
    tables, corpora, derived = {}, {}, {}
    for split in wanted:
        path = root / f"{SPLIT_FILE_STEMS[split]}.csv"
        if not path.is_file():
            continue
        half = SPLIT_CORPUS[split]
        if half not in corpora:
            corpora[half] = _read_corpus_json(root / f"corpus_{half}.json", half, image_root)
        tables[split], derived[split] = _read_csv_table(path, corpora[half])
    _check_disjoint(corpora, lambda half, pid: str(root / f"corpus_{half}.json"))
    return tables, corpora, derived


def _variants(split: str) -> tuple[str, ...]:
    return (split, split.replace("_", "-"))


PARQUET_PATTERNS = ("{}/*.parquet", "data/{}-*.parquet", "{}-*.parquet", "default/{}/*.parquet", "data/{}/*.parquet")


def parquet_files(root: Path, split: str) -> list[Path]:
    """The split's shards in any of the accepted parquet layouts (sorted)."""
    for name in _variants(split):
        for pattern in PARQUET_PATTERNS:
            files = sorted(root.glob(pattern.format(name)))
            if files:
                return files
    return []


def _open_parquet(path: Path) -> pq.ParquetFile:
    if path.stat().st_size == 0:
        raise _empty_file(path)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable parquet file ({e}); re-download it") from None


def _id_kind(arrow_type) -> str | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    return "integer" if pa.types.is_integer(arrow_type) else None


def _check_parquet_schema(path: Path, schema: pa.Schema, id_types: dict) -> None:
    """The image column is a {bytes, path} struct or plain binary; every id column has one kind (string or
    integer) across all shards (`id_types`: column -> (first file, its type), filled as shards are opened)."""
    if "image" not in schema.names:
        raise DataError(f"{path}: missing column 'image' (struct {{bytes, path}}); use the parquet release")
    image = schema.field("image").type
    binary = (pa.types.is_binary, pa.types.is_large_binary)
    if pa.types.is_struct(image):
        ok = image.get_field_index("bytes") >= 0 and any(f(image.field("bytes").type) for f in binary)
    else:
        ok = any(f(image) for f in binary)
    if not ok:
        raise DataError(f"{path}: column 'image' has type {image}; expected the release's struct {{bytes, path}} "
                        f"or plain binary image bytes")
    for col in ID_COLUMNS:
        if col not in schema.names:
            continue
        kind = _id_kind(schema.field(col).type)
        if kind is None:
            raise DataError(f"{path}: column {col!r} has type {schema.field(col).type}; ids must be strings "
                            f"(as in the release) or integers")
        first_path, first_type = id_types.setdefault(col, (path, schema.field(col).type))
        if _id_kind(first_type) != kind:
            raise DataError(f"column {col!r} is {first_type} in {first_path} but {schema.field(col).type} in {path}: "
                            f"ids such as '0042' and 42 would name different items; give every shard the same id "
                            f"type (string, as the release)")


def _shard_where(paths: list[Path], lengths: list[int]) -> Where:
    starts = np.cumsum([0, *lengths])

    def where(i: int) -> str:
        k = int(np.searchsorted(starts, i, side="right") - 1)
        return f"{paths[k]}, row {i - starts[k]}"
    return where


def _partner(split: str) -> str:
    """The other split searched against the same corpus half."""
    return next(s for s in SPLITS if s != split and SPLIT_CORPUS[s] == SPLIT_CORPUS[split])


def _load_parquet(root: Path, wanted: tuple[str, ...], scope: str):
    needed = set(wanted) | ({_partner(s) for s in wanted} if scope == "half" else set())
    tables, derived, files, locations, id_types = {}, {}, [], {1: [], 2: []}, {}
    for split in (s for s in SPLITS if s in needed):
        paths, parts, columns = parquet_files(root, split), [], None
        for path in paths:
            pf = _open_parquet(path)
            _check_parquet_schema(path, pf.schema_arrow, id_types)
            names = [c for c in pf.schema_arrow.names if c != "image"]
            columns = columns or (path, names)
            if set(names) != set(columns[1]):
                raise DataError(f"{path} has columns {sorted(names)} but {columns[0]} has {sorted(columns[1])}; "
                                f"every shard of split {split!r} needs the same columns")
            part = validate_pairs(pf.read(columns=names).to_pandas(), str(path))
            starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
            first = np.flatnonzero(~part["product_id"].duplicated().to_numpy())
            group = np.searchsorted(starts, first, side="right") - 1
            titles = part["title"].to_numpy()[first] if "title" in part.columns else ""
            locations[SPLIT_CORPUS[split]].append(pd.DataFrame({
                "product_id": part["product_id"].to_numpy()[first], "title": titles,
                "file": len(files), "group": group, "row": first - starts[group]}))
            files.append(path)
            parts.append(part)
        if parts:
            table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            tables[split] = finish_split(table, f"split {split!r}", _shard_where(paths, [len(p) for p in parts]))
            derived[split] = tuple(c for c in PAIR_COLUMNS if c not in columns[1])
    if scope == "half":
        for split in (s for s in wanted if s in tables):
            partner = _partner(split)
            if partner not in tables:
                looked = ", ".join(str(root / p.format(partner)) for p in PARQUET_PATTERNS[:3])
                raise DataError(f"{root}: corpus half {SPLIT_CORPUS[split]} is the products of {split} + {partner}, "
                                f"but no {partner} shard was found (looked for {looked}); add the {partner} "
                                f"shard(s), or pass corpus='split' (--corpus split) to search each split's own "
                                f"rows, as the official Hugging Face evaluator does")
    corpora = {}
    for half, parts in locations.items():
        if parts:
            loc = pd.concat(parts, ignore_index=True).drop_duplicates("product_id").set_index("product_id")
            corpora[half] = Corpus(half, loc[["title"]], ParquetImages(files, loc[["file", "group", "row"]]))
    _check_disjoint(corpora, lambda half, pid: corpora[half].images.describe(pid))
    return {s: t for s, t in tables.items() if s in wanted}, corpora, {s: derived[s] for s in wanted if s in derived}


def _detect_layout(root: Path) -> str:
    if any((root / f"{stem}.csv").is_file() for stem in SPLIT_FILE_STEMS.values()):
        return "tarball"
    if any(parquet_files(root, s) for s in SPLITS):
        return "parquet"
    raise DataError(f"{root}: no Marqo-GS split found; expected query_{{0,1}}_product_id_{{0,1}}.csv (tarball) or "
                    f"<split>/*.parquet, data/<split>-*.parquet, <split>-*.parquet (parquet) for splits "
                    f"{', '.join(SPLITS)}")


def _check_images(corpora: dict[int, Corpus], mode: str, on_bad_image: str) -> tuple[str, ...]:
    bad: dict[str, str] = {}
    for corpus in corpora.values():
        images = corpus.images
        if mode in ("exists", "decode"):
            if isinstance(images, FolderImages):
                present = images.present()
                for pid in corpus.products.index:
                    if images.names.get(pid) not in present:
                        bad[pid] = f"missing image file {images.describe(pid)}"
            else:
                for pid in images.empty_rows():
                    bad[pid] = f"no image bytes in {images.describe(pid)}"
        if mode == "decode":
            for pid in corpus.products.index:
                if pid in bad:
                    continue
                try:
                    corpus.load_image(pid)
                except DataError as e:
                    bad[pid] = str(e)
        if bad and on_bad_image == "error":
            pid, why = next(iter(bad.items()))
            raise DataError(f"product {pid!r} (corpus half {corpus.half}): {why}; {len(bad)} product(s) have a bad "
                            f"image. Point image_root (--image-root) at the image folder, or pass "
                            f"on_bad_image='skip' (--on-bad-image skip) to load without them")
        corpus.without_image = frozenset(p for p in corpus.products.index if p in bad)
    if bad:
        warnings.warn(f"skipped {len(bad)} missing or unreadable image(s); those products keep their title only "
                      f"(GSData.bad_images)", stacklevel=3)
    return tuple(bad)


def _warn_missing_titles(missing: pd.DataFrame) -> None:
    lacking = missing[missing["no_title"] > 0]
    if len(lacking):
        counts = ", ".join(f"{name} {row.no_title:,} of {row.rows:,}" for name, row in lacking.iterrows())
        warnings.warn(f"rows without a title: {counts}; they load with an empty title, which gets weight 0 in the "
                      f"fused embedding (BM25 sees an empty text); counts per field in GSData.missing", stacklevel=3)


def load_gs(path, image_root=None, on_bad_image: str = "error", check_images: str = "exists",
            splits=None, corpus: str = "half") -> GSData:
    """Load a Marqo-GS subset folder (tarball or parquet layout) into a GSData.

    image_root: image folder for the tarball layout (default `<path>/images`; the official release unpacks the
    images beside the subset folder). on_bad_image: "error" (raise a DataError naming the product and file) or
    "skip" (keep the product without image, warn, count in `GSData.bad_images`). check_images: "exists" (default;
    tarball: one listing of image_root; parquet: stream the image column once), "decode" (also decode every
    image: catches corrupt files; slow on the full release) or "none" (problems then surface in
    `Corpus.load_image`). splits: names to load (default all present). corpus: "half" (each split is searched
    against its whole corpus half: the tarball's corpus JSON, or in the parquet layout the products of both
    splits of the half, whose shards must then both be present) or "split" (the products of the split's own
    rows, as the official Hugging Face evaluator)."""
    root = Path(path)
    options = DataOptions(image_root, on_bad_image, check_images)
    check_corpus_scope(corpus)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass the subset folder (e.g. marqo_gs_wfash_1m) or a SynthShop root")
    wanted = tuple(check_split(s) for s in splits) if splits is not None else SPLITS
    layout = _detect_layout(root)
    if layout == "tarball":
        images = Path(options.image_root) if options.image_root else root / "images"
        tables, corpora, derived = _load_tarball(root, images, wanted)
    else:
        tables, corpora, derived = _load_parquet(root, wanted, corpus)
    if not tables:
        raise DataError(f"{root}: none of the requested splits {list(wanted)} is present")
    bad = _check_images(corpora, options.check_images, options.on_bad_image)
    data = GSData(root=root, layout=layout, corpora=corpora, tables=tables, bad_images=bad, corpus_scope=corpus,
                  derived_columns=derived)
    _warn_missing_titles(data.missing)
    return data

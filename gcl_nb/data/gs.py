"""Load Marqo-GS-10M (or SynthShop) in either release layout into one representation.

Tarball layout: `query_{0,1}_product_id_{0,1}.csv` split tables, `corpus_1.json` / `corpus_2.json`
({product_id: {"title", "image_local"}}) and an image folder. `image_local` holds the authors' absolute paths
(`/input/images/NAME.jpg`): each image is resolved by its FILE NAME under `image_root` (default
`<root>/images`); nothing outside that folder is opened (names like '..' and symlinks leaving it are rejected)
and no file is rewritten.
Parquet layout (the Hugging Face release): shards per split with an `image` struct column {bytes, path}, under
`<root>/<split>/*.parquet`, `<root>/data/<split>-*.parquet` or `<root>/<split>-*.parquet` (also `default/<split>/`
and hyphenated split names). Corpus half 1 = the products of in_domain + novel_query, half 2 = novel_document +
zero_shot. Only the non-image columns are read up front; images are read per row group on demand (a small LRU of
row groups), so memory stays bounded by the pair tables.
Ids (query_id, product_id, pair_id) are strings everywhere.
"""
from __future__ import annotations

import json
import os
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from .schema import ID_COLUMNS, PAIR_COLUMNS, SCORE_COLUMNS, SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS, DataError, check_split

ON_BAD_IMAGE = ("error", "skip")
CHECK_IMAGES = ("none", "exists", "decode")
TEXT_COLUMNS = ("query", "title")
PARQUET_ROW_GROUP_CACHE = 4


# ----------------------------------------------------------------------------------------------- validation
def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_pairs(raw: pd.DataFrame, source: str, where=lambda i: f"row {i}") -> pd.DataFrame:
    """Check a raw split table (all columns as read) and return it typed: ids/text str, position int64,
    scores float64, columns in PAIR_COLUMNS order. `where(i)` names data row i in error messages."""
    missing = [c for c in PAIR_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; a split table needs {list(PAIR_COLUMNS)} "
                        f"(found {list(raw.columns)}). Use the original release files.")
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for col in (*TEXT_COLUMNS, *ID_COLUMNS):
        values = raw[col]
        if values.isna().any():
            i = _first(values.isna().to_numpy())
            raise DataError(f"{source}, {where(i)}, column {col!r}: value is missing; fill it or drop the row")
        out[col] = values.astype(str).to_numpy()
    for col in TEXT_COLUMNS:
        empty = (out[col].str.strip() == "").to_numpy()
        if empty.any():
            i = _first(empty)
            raise DataError(f"{source}, {where(i)}, column {col!r}: empty {col}; fix or drop the row")
    for col in ("position", *SCORE_COLUMNS):
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
    dup = out.duplicated(["query", "product_id"], keep="first").to_numpy()
    if dup.any():
        i = _first(dup)
        q, p = out["query"].iat[i], out["product_id"].iat[i]
        j = _first(((out["query"] == q) & (out["product_id"] == p)).to_numpy())
        raise DataError(f"{source}, {where(i)}: duplicate (query, product_id) pair ({q!r}, {p!r}), first seen at "
                        f"{where(j)}; keep one row per pair")
    return out.loc[:, list(PAIR_COLUMNS)]


def check_in_corpus(table: pd.DataFrame, corpus: "Corpus", source: str, where) -> None:
    absent = ~table["product_id"].isin(corpus.products.index).to_numpy()
    if absent.any():
        i = _first(absent)
        raise DataError(f"{source}, {where(i)}, column 'product_id': product {table['product_id'].iat[i]!r} is "
                        f"not in corpus half {corpus.half} ({absent.sum()} row(s) like this); the split and "
                        f"corpus files must come from the same release")


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
        column = self._open[f].read_row_group(g, columns=["image"]).column("image")
        return column.combine_chunks().field("bytes")

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
    """One corpus half: `.products` (DataFrame indexed by product_id, column title) and lazy images."""
    half: int
    products: pd.DataFrame
    images: FolderImages | ParquetImages = field(repr=False)
    without_image: frozenset = frozenset()

    def __len__(self) -> int:
        return len(self.products)

    def has_image(self, product_id: str) -> bool:
        return product_id in self.products.index and product_id not in self.without_image

    def load_image(self, product_id: str) -> Image.Image:
        """The product's image as RGB; DataError naming the product and file when missing or corrupt."""
        if product_id not in self.products.index:
            raise DataError(f"product {product_id!r} is not in corpus half {self.half}")
        if product_id in self.without_image:
            raise DataError(f"product {product_id!r}: image {self.images.describe(product_id)} was skipped at "
                            f"load time (missing or unreadable); check has_image() first")
        return decode_image(self.images.read(product_id), product_id, self.images.describe(product_id))


# ------------------------------------------------------------------------------------------------ GSData
@dataclass
class GSData:
    """A loaded subset: per split the pair table, per corpus half a Corpus.

    `bad_images` lists products whose image was missing/unreadable and skipped (on_bad_image="skip"); their rows
    stay in the split tables (the title is still there) and `corpus.has_image(pid)` is False."""
    root: Path
    layout: str
    corpora: dict[int, Corpus]
    tables: dict[str, pd.DataFrame] = field(repr=False)
    bad_images: tuple[str, ...] = ()

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
        return self.corpora[SPLIT_CORPUS[check_split(split)]]


# ------------------------------------------------------------------------------------------------ loading
def _read_csv_table(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable CSV ({e}); re-extract the release") from None
    table = validate_pairs(raw, str(path), where=lambda i: f"line {i + 2}")
    return table


def _read_corpus_json(path: Path, half: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """products (index product_id, columns title, image_local) and {product_id: image file name}."""
    if not path.is_file():
        raise DataError(f"{path}: corpus file missing; the tarball layout needs corpus_{half}.json beside the "
                        f"split CSVs")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno} ({e.msg}); re-extract the release") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object {{product_id: {{title, image_local}}}}")
    ids, titles, images = [], [], []
    for pid, entry in data.items():
        title = entry.get("title") if isinstance(entry, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise DataError(f"{path}, product {pid!r}, field 'title': missing or empty title; fix the entry")
        ids.append(str(pid))
        titles.append(title)
        images.append(str(entry.get("image_local") or ""))
    products = pd.DataFrame({"title": titles, "image_local": images}, index=pd.Index(ids, name="product_id"))
    return products, {pid: image_name(im) for pid, im in zip(ids, images) if im}


def _load_tarball(root: Path, image_root: Path, wanted: tuple[str, ...]):
    tables, corpora = {}, {}
    for split in wanted:
        path = root / f"{SPLIT_FILE_STEMS[split]}.csv"
        if not path.is_file():
            continue
        half = SPLIT_CORPUS[split]
        if half not in corpora:
            products, names = _read_corpus_json(root / f"corpus_{half}.json", half)
            corpora[half] = Corpus(half, products, FolderImages(image_root, names))
        tables[split] = _read_csv_table(path)
        check_in_corpus(tables[split], corpora[half], str(path), where=lambda i: f"line {i + 2}")
    return tables, corpora


def _variants(split: str) -> tuple[str, ...]:
    return (split, split.replace("_", "-"))


def parquet_files(root: Path, split: str) -> list[Path]:
    """The split's shards in any of the accepted parquet layouts (sorted)."""
    for name in _variants(split):
        for pattern in (f"{name}/*.parquet", f"data/{name}-*.parquet", f"{name}-*.parquet",
                        f"default/{name}/*.parquet", f"data/{name}/*.parquet"):
            files = sorted(root.glob(pattern))
            if files:
                return files
    return []


def _load_parquet(root: Path, wanted: tuple[str, ...]):
    tables, files, locations = {}, [], {1: [], 2: []}
    for split in wanted:
        parts = []
        for path in parquet_files(root, split):
            pf = pq.ParquetFile(path)
            if "image" not in pf.schema_arrow.names:
                raise DataError(f"{path}: missing column 'image' (struct {{bytes, path}}); use the parquet release")
            raw = pf.read(columns=[c for c in pf.schema_arrow.names if c != "image"]).to_pandas()
            table = validate_pairs(raw, str(path))
            del raw
            starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
            first = np.flatnonzero(~table["product_id"].duplicated().to_numpy())
            group = np.searchsorted(starts, first, side="right") - 1
            locations[SPLIT_CORPUS[split]].append(pd.DataFrame({
                "product_id": table["product_id"].to_numpy()[first], "title": table["title"].to_numpy()[first],
                "file": len(files), "group": group, "row": first - starts[group]}))
            files.append(path)
            parts.append(table)
        if parts:
            table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            dup = table.duplicated(["query", "product_id"]).to_numpy()
            if dup.any():
                i = _first(dup)
                raise DataError(f"{root} split {split!r}, row {i} (over its shards): duplicate (query, product_id) "
                                f"pair ({table['query'].iat[i]!r}, {table['product_id'].iat[i]!r}); keep one")
            tables[split] = table
    corpora = {}
    for half, parts in locations.items():
        if parts:
            loc = pd.concat(parts, ignore_index=True).drop_duplicates("product_id").set_index("product_id")
            corpora[half] = Corpus(half, loc[["title"]], ParquetImages(files, loc[["file", "group", "row"]]))
    return tables, corpora


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
                            f"image. Point image_root at the image folder, or pass on_bad_image='skip' to load "
                            f"without them")
        corpus.without_image = frozenset(p for p in corpus.products.index if p in bad)
    if bad:
        warnings.warn(f"skipped {len(bad)} missing or unreadable image(s); those products keep their title only "
                      f"(GSData.bad_images)", stacklevel=3)
    return tuple(bad)


def load_gs(path, image_root=None, on_bad_image: str = "error", check_images: str = "exists",
            splits=None) -> GSData:
    """Load a Marqo-GS subset folder (tarball or parquet layout) into a GSData.

    image_root: image folder for the tarball layout (default `<path>/images`). on_bad_image: "error" (raise a
    DataError naming the product and file) or "skip" (keep the product without image, warn, count in
    `GSData.bad_images`). check_images: "exists" (default; tarball: one listing of image_root; parquet: stream
    the image column once), "decode" (also decode every image: catches corrupt files; slow on the full release)
    or "none" (problems then surface in `Corpus.load_image`). splits: names to load (default all present)."""
    root = Path(path)
    if on_bad_image not in ON_BAD_IMAGE:
        raise ValueError(f"on_bad_image={on_bad_image!r}: choose one of {ON_BAD_IMAGE}")
    if check_images not in CHECK_IMAGES:
        raise ValueError(f"check_images={check_images!r}: choose one of {CHECK_IMAGES}")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass the subset folder (e.g. marqo_gs_wfash_1m) or a SynthShop root")
    wanted = tuple(check_split(s) for s in splits) if splits is not None else SPLITS
    layout = _detect_layout(root)
    if layout == "tarball":
        tables, corpora = _load_tarball(root, Path(image_root) if image_root else root / "images", wanted)
    else:
        tables, corpora = _load_parquet(root, wanted)
    if not tables:
        raise DataError(f"{root}: none of the requested splits {list(wanted)} is present")
    bad = _check_images(corpora, check_images, on_bad_image)
    return GSData(root=root, layout=layout, corpora=corpora, tables=tables, bad_images=bad)

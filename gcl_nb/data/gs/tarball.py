"""The tarball layout: split CSVs + corpus JSON per half + an image folder.

Files: `query_{0,1}_product_id_{0,1}.csv` split tables, `corpus_1.json` / `corpus_2.json`
({product_id: {"title", "image_local"}}) and an image folder. `image_local` holds the authors' absolute paths
(`/input/images/NAME.jpg`): each image is resolved by its FILE NAME under `image_root` (default
`<root>/images`); a relative `image_local` (as `gcl-nb prepare` writes) is a path under `image_root`. Further
fields of a corpus entry (description, brand, ...) load as text columns of `Corpus.products`. A product without
`image_local` has no image (a missing field, not an error). Nothing outside the image folder is opened (names
like '..' and symlinks leaving it are rejected) and no file is rewritten. Errors name the file and the physical CSV
line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gcl_nb.data.gs.containers import Corpus
from gcl_nb.data.gs.images import FolderImages, image_key
from gcl_nb.data.gs.validation import (
    CORPUS_FIELDS,
    check_disjoint,
    check_in_corpus,
    csv_line,
    empty_file,
    field_text,
    finish_split,
    malformed_csv_record,
    validate_pairs,
)
from gcl_nb.data.schema import PAIR_COLUMNS, SPLIT_CORPUS, SPLIT_FILE_STEMS, DataError


def _read_csv_table(path: Path, corpus: Corpus) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """A split CSV -> (pair table, the PAIR_COLUMNS the file lacks); titles absent from it come from the corpus."""
    if path.stat().st_size == 0:
        raise empty_file(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise empty_file(path) from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a readable CSV ({e}); re-extract the release") from None
    except pd.errors.ParserError as e:  # pandas counts records, not physical lines: find the line itself
        where = malformed_csv_record(path) or str(e).strip()
        raise DataError(f"{path}: not a readable CSV ({where}); fix that row or re-extract the release") from None

    def where(i: int) -> str:
        return f"line {csv_line(path, i)}"

    table = validate_pairs(raw, str(path), where)
    check_in_corpus(table, corpus, str(path), where)
    if "title" not in table.columns:
        table["title"] = corpus.products["title"].reindex(table["product_id"]).to_numpy()
    return finish_split(table, str(path), where), tuple(c for c in PAIR_COLUMNS if c not in raw.columns)


def _read_corpus_json(path: Path, half: int, image_root: Path) -> Corpus:
    """corpus_<half>.json -> Corpus (products with title, image_local and any further text field of the entries;
    a missing text becomes "")."""
    if not path.is_file():
        raise DataError(
            f"{path}: corpus file missing; the tarball layout needs corpus_{half}.json beside the split CSVs"
        )
    if path.stat().st_size == 0:
        raise empty_file(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno} ({e.msg}); re-extract the release") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object {{product_id: {{title, image_local}}}}")
    ids, fields = [], {name: [] for name in CORPUS_FIELDS}
    for pid, entry in data.items():
        if not isinstance(entry, dict):
            raise DataError(
                f"{path}, product {pid!r}: expected an object {{title, image_local}}, got "
                f"{type(entry).__name__}; fix the entry"
            )
        for name in entry.keys() - fields.keys():  # a further text field (description, brand, ...)
            fields[name] = [""] * len(ids)
        for name, values in fields.items():
            value = entry.get(name)
            values.append("" if name == "title" and not isinstance(value, str) else field_text(value))
        ids.append(str(pid))
    products = pd.DataFrame(fields, index=pd.Index(ids, name="product_id"))
    names = {pid: image_key(im) for pid, im in zip(ids, products["image_local"]) if im}
    return Corpus(half, products, FolderImages(image_root, names))


def load_tarball(root: Path, image_root: Path, wanted: tuple[str, ...]):
    """(pair tables, corpora, derived columns) of the `wanted` splits present under `root`."""
    tables, corpora, derived = {}, {}, {}
    for split in wanted:
        path = root / f"{SPLIT_FILE_STEMS[split]}.csv"
        if not path.is_file():
            continue
        half = SPLIT_CORPUS[split]
        if half not in corpora:
            corpora[half] = _read_corpus_json(root / f"corpus_{half}.json", half, image_root)
        tables[split], derived[split] = _read_csv_table(path, corpora[half])
    check_disjoint(corpora, lambda half, pid: str(root / f"corpus_{half}.json"))
    return tables, corpora, derived

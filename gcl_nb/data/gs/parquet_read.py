"""Reading the parquet layout (the Hugging Face release).

Shards per split with an `image` column (struct {bytes, path}, or plain binary bytes), under
`<root>/<split>/*.parquet`, `<root>/data/<split>-*.parquet` or `<root>/<split>-*.parquet` (also `default/<split>/`
and hyphenated split names). Corpus half 1 = the products of in_domain + novel_query, half 2 = novel_document +
zero_shot. Further string columns (description, brand, ...) load as text columns of `Corpus.products`, as the
further fields of a tarball corpus entry; a row whose image is null names no image (the product has none, a
missing field, not an error). Only the non-image columns (and a struct image's `path`) are read up front; images
are read per row group on demand (ParquetImages), so memory stays bounded by the pair tables. Errors name the
shard and row.
The writer of this layout is gcl_nb.data.gs.parquet_write.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gcl_nb.data.gs.containers import Corpus
from gcl_nb.data.gs.images import ParquetImages, null_image_rows
from gcl_nb.data.gs.validation import (
    CORPUS_FIELDS,
    Where,
    check_disjoint,
    empty_file,
    field_text,
    finish_split,
    validate_pairs,
)
from gcl_nb.data.schema import ID_COLUMNS, PAIR_COLUMNS, SPLIT_CORPUS, SPLITS, DataError, protocol_order


def _variants(split: str) -> tuple[str, ...]:
    return (split, split.replace("_", "-"))


PARQUET_PATTERNS = ("{}/*.parquet", "data/{}-*.parquet", "{}-*.parquet", "default/{}/*.parquet", "data/{}/*.parquet")


#: a shard's place in its set, as the release names them: `<split>-00003-of-00008.parquet`
_SHARD_OF = re.compile(r"^(?P<stem>.*)-(?P<index>\d+)-of-(?P<count>\d+)\.parquet$")


def parquet_files(root: Path, split: str) -> list[Path]:
    """The split's shards in any of the accepted parquet layouts (sorted); DataError naming the missing files
    when shards named `...-<i>-of-<n>.parquet` do not form whole sets of n."""
    for name in _variants(split):
        for pattern in PARQUET_PATTERNS:
            files = sorted(root.glob(pattern.format(name)))
            if files:
                _check_shard_sets(files)
                return files
    return []


def _check_shard_sets(files: list[Path]) -> None:
    """DataError when a set of `-<i>-of-<n>` shards lacks a member (a partial download evaluates on part of the
    split), naming the missing files."""
    sets: dict[tuple[Path, str, str], set[int]] = {}
    for path in files:
        match = _SHARD_OF.match(path.name)
        if match:
            key = (path.parent, match["stem"], match["count"])
            sets.setdefault(key, set()).add(int(match["index"]))
    for (folder, stem, count), present in sets.items():
        width = len(count)
        missing = [folder / f"{stem}-{i:0{width}d}-of-{count}.parquet" for i in range(int(count)) if i not in present]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise DataError(
                f"{folder}: shard set {stem}-*-of-{count}.parquet lacks {len(missing)} of its {int(count)} "
                f"files ({shown}); download the missing shards"
            )


def _open_parquet(path: Path) -> pq.ParquetFile:
    if path.stat().st_size == 0:
        raise empty_file(path)
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
        raise DataError(
            f"{path}: column 'image' has type {image}; expected the release's struct {{bytes, path}} "
            f"or plain binary image bytes"
        )
    for col in ID_COLUMNS:
        if col not in schema.names:
            continue
        kind = _id_kind(schema.field(col).type)
        if kind is None:
            raise DataError(
                f"{path}: column {col!r} has type {schema.field(col).type}; ids must be strings "
                f"(as in the release) or integers"
            )
        first_path, first_type = id_types.setdefault(col, (path, schema.field(col).type))
        if _id_kind(first_type) != kind:
            raise DataError(
                f"column {col!r} is {first_type} in {first_path} but {schema.field(col).type} in {path}: "
                f"ids such as '0042' and 42 would name different items; give every shard the same id "
                f"type (string, as the release)"
            )


def _further_text_columns(schema: pa.Schema) -> list[str]:
    """The string columns beyond the release's (description, brand, ...): document text fields, as the further
    fields of a tarball corpus entry."""
    own = {*PAIR_COLUMNS, *CORPUS_FIELDS, "image"}
    return [f.name for f in schema if f.name not in own and _id_kind(f.type) == "string"]


def _shard_where(paths: list[Path], lengths: list[int]) -> Where:
    starts = np.cumsum([0, *lengths])

    def where(i: int) -> str:
        k = int(np.searchsorted(starts, i, side="right") - 1)
        return f"{paths[k]}, row {i - starts[k]}"

    return where


def _partner(split: str) -> str:
    """The other split searched against the same corpus half."""
    return next(s for s in SPLITS if s != split and SPLIT_CORPUS[s] == SPLIT_CORPUS[split])


def load_parquet(root: Path, wanted: tuple[str, ...], scope: str):
    """(pair tables, corpora, derived columns) of the `wanted` splits present under `root`; with scope "half"
    the partner split of each (same corpus half) is read too, for its products."""
    needed = set(wanted) | ({_partner(s) for s in wanted} if scope == "half" else set())
    tables, derived, files, locations, id_types = {}, {}, [], {1: [], 2: []}, {}
    for split in protocol_order(needed, others=False):
        paths, parts, columns = parquet_files(root, split), [], None
        for path in paths:
            pf = _open_parquet(path)
            _check_parquet_schema(path, pf.schema_arrow, id_types)
            names = [c for c in pf.schema_arrow.names if c != "image"]
            columns = columns or (path, names)
            if set(names) != set(columns[1]):
                raise DataError(
                    f"{path} has columns {sorted(names)} but {columns[0]} has {sorted(columns[1])}; "
                    f"every shard of split {split!r} needs the same columns"
                )
            raw = pf.read(columns=names).to_pandas()
            part = validate_pairs(raw, str(path))
            starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
            first = np.flatnonzero(~part["product_id"].duplicated().to_numpy())
            group = np.searchsorted(starts, first, side="right") - 1
            titles = part["title"].to_numpy()[first] if "title" in part.columns else ""
            further = {
                name: [field_text(v) for v in raw[name].to_numpy()[first]]
                for name in _further_text_columns(pf.schema_arrow)
            }
            locations[SPLIT_CORPUS[split]].append(
                pd.DataFrame(
                    {
                        "product_id": part["product_id"].to_numpy()[first],
                        "title": titles,
                        **further,
                        "no_image": null_image_rows(pf)[first],
                        "file": len(files),
                        "group": group,
                        "row": first - starts[group],
                    }
                )
            )
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
                raise DataError(
                    f"{root}: corpus half {SPLIT_CORPUS[split]} is the products of {split} + {partner}, "
                    f"but no {partner} shard was found (looked for {looked}); add the {partner} "
                    f"shard(s), or pass corpus='split' (--corpus split) to search each split's own "
                    f"rows, as the official Hugging Face evaluator does"
                )
    corpora = {}
    for half, parts in locations.items():
        if parts:
            loc = pd.concat(parts, ignore_index=True).drop_duplicates("product_id").set_index("product_id")
            where = ["file", "group", "row"]
            texts = loc.drop(columns=[*where, "no_image"]).fillna("")  # a field only some splits have: "" elsewhere
            images = ParquetImages(files, loc[where], frozenset(loc.index[loc["no_image"].to_numpy(bool)]))
            corpora[half] = Corpus(half, texts, images)
    check_disjoint(corpora, lambda half, pid: corpora[half].images.describe(pid))
    return {s: t for s, t in tables.items() if s in wanted}, corpora, {s: derived[s] for s in wanted if s in derived}

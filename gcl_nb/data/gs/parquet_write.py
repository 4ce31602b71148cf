"""Writing the parquet layout: export a loaded data set to the Hugging Face release layout (read by parquet_read).

`<dst>/data/<split>-00000-of-00001.parquet` per split, columns as in Marqo/marqo-GS-10M: image (struct
{bytes, path}; null for a product without image), query, product_id, position, title, pair_id, score_linear,
score_reciprocal, no_score, query_id; then the corpus's further text fields (description, brand, ...) as string
columns.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gcl_nb.data.gs.loader import load_gs
from gcl_nb.data.gs.validation import CORPUS_FIELDS
from gcl_nb.data.schema import DataError

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
PARQUET_COLUMNS = (
    "query",
    "product_id",
    "position",
    "title",
    "pair_id",
    "score_linear",
    "score_reciprocal",
    "no_score",
    "query_id",
)
INT_COLUMNS = ("position", "score_linear", "no_score")  # integers in the release


def export_parquet(src_root, dst_root, image_root=None, row_group_size: int = 256) -> Path:
    """Write `src_root` (any layout load_gs reads) as the parquet release under `dst_root`; returns dst_root.

    Every row carries its product's image bytes (read once per product) and further text fields; products
    without image get a null image. Score columns that hold whole numbers are written as int64, as in the
    release. DataError when a further field has the name of a split column."""
    data = load_gs(src_root, image_root=image_root)
    out = Path(dst_root) / "data"
    out.mkdir(parents=True, exist_ok=True)
    for split in data.splits:
        table, corpus = data.split(split), data.corpus_for(split)
        cache: dict[str, dict | None] = {
            pid: {"bytes": corpus.images.read(pid), "path": corpus.images.describe(pid).rsplit("/", 1)[-1]}
            if corpus.has_image(pid)
            else None
            for pid in table["product_id"].unique()
        }
        columns = {"image": pa.array([cache[p] for p in table["product_id"]], type=IMAGE_TYPE)}
        for col in PARQUET_COLUMNS:
            values = table[col]
            if col in INT_COLUMNS and (values % 1 == 0).all():
                columns[col] = pa.array(values.astype("int64"))
            else:
                columns[col] = pa.array(values.to_numpy() if values.dtype.kind == "f" else values.tolist())
        for name in (c for c in corpus.products.columns if c not in CORPUS_FIELDS):
            if name in columns:
                raise DataError(f"{src_root}: corpus field {name!r} has the name of a split column; rename it")
            columns[name] = pa.array(corpus.products[name].reindex(table["product_id"]).tolist(), type=pa.string())
        pq.write_table(pa.table(columns), out / f"{split}-00000-of-00001.parquet", row_group_size=row_group_size)
    return Path(dst_root)

"""Where a product's image bytes come from: files in a folder (tarball layout) or parquet shards; decoding."""

from __future__ import annotations

import os
from collections import OrderedDict
from io import BytesIO
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from gcl_nb.data.schema import DataError

PARQUET_ROW_GROUP_CACHE = 4


def image_key(image_local: str) -> str:
    """Where an `image_local` path points under the image root: the file name of an absolute path (the
    release's `/input/images/NAME.jpg`), else the relative path itself (POSIX separators)."""
    text = str(image_local).replace("\\", "/")
    path = PurePosixPath(text)
    return path.name if path.is_absolute() or text[1:3] == ":/" else str(path)


class FolderImages:
    """Images as files under `root`, found by their key (file name or relative path, see image_key); never
    opens anything outside `root`."""

    def __init__(self, root: Path, names: dict[str, str]):
        self.root, self.names = Path(root), names
        self._real_root = self.root.resolve()

    def path(self, product_id: str) -> Path:
        name = self.names[product_id]
        if name in ("", ".") or ".." in PurePosixPath(name).parts or name.startswith("/") or "\0" in name:
            raise DataError(
                f"product {product_id!r}: image name {name!r} is not a file under {self.root}; fix "
                f"image_local in the corpus file"
            )
        path = self.root / name
        real = path.resolve()
        if real.parent != self._real_root and self._real_root not in real.parents:
            raise DataError(
                f"product {product_id!r}: image {path} is a link leading outside the image root "
                f"{self.root} ({real}); refusing to open it"
            )
        return path

    def present(self) -> set[str]:
        """Non-empty files under root as image keys (one listing per folder, so millions of files are checked
        quickly); subfolders are listed only when some key names one."""
        if not self.root.is_dir():
            return set()
        found, folders = set(), [("", self.root)]
        nested = any("/" in name for name in self.names.values())
        while folders:
            prefix, folder = folders.pop()
            with os.scandir(folder) as it:
                for e in it:
                    if e.is_file() and e.stat().st_size > 0:
                        found.add(prefix + e.name)
                    elif nested and e.is_dir():
                        folders.append((f"{prefix}{e.name}/", e.path))
        return found

    def names_image(self, product_id: str) -> bool:
        """False when the product's corpus entry names no image (it has none)."""
        return product_id in self.names

    def describe(self, product_id: str) -> str:
        return str(self.root / self.names.get(product_id, "?"))

    def read(self, product_id: str) -> bytes:
        path = self.path(product_id)
        try:
            return path.read_bytes()
        except OSError as e:
            raise DataError(
                f"product {product_id!r}: cannot read image file {path} ({e.strerror or e}); "
                f"check image_root or pass on_bad_image='skip'"
            ) from None


class ParquetImages:
    """Image bytes inside parquet shards, located by (file, row group, row) per product (numpy arrays, so
    millions of products cost a few bytes each); row groups are read on demand, the last few kept (LRU)."""

    def __init__(self, files: list[Path], locations: pd.DataFrame, unnamed: frozenset = frozenset()):
        self.files, self.unnamed = files, unnamed
        self.index = locations.index
        self.file, self.group, self.row = (locations[c].to_numpy(np.int64) for c in ("file", "group", "row"))
        self._groups: OrderedDict = OrderedDict()
        self._open: dict[int, pq.ParquetFile] = {}

    def names_image(self, product_id: str) -> bool:
        """False when the product's row holds a null image (it has none; see null_image_rows)."""
        return product_id not in self.unnamed

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
            raise DataError(
                f"product {product_id!r}: no image bytes in {self.describe(product_id)}; "
                f"pass on_bad_image='skip' to load the data without it"
            )
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


def null_image_rows(parquet: pq.ParquetFile) -> np.ndarray:
    """Per row of the file, whether its image is null: the row names no image, so its product has none (as a
    tarball corpus entry without image_local). Of a {bytes, path} struct only the `path` child is read."""
    column = "image.path" if pa.types.is_struct(parquet.schema_arrow.field("image").type) else "image"
    groups = (parquet.read_row_group(g, columns=[column]).column("image") for g in range(parquet.num_row_groups))
    return np.concatenate([np.zeros(0, bool), *(c.is_null().to_numpy() for c in groups)])


def decode_image(data: bytes, product_id: str, where: str) -> Image.Image:
    try:
        with Image.open(BytesIO(data)) as img:
            return img.convert("RGB")
    except Exception as e:  # PIL raises several types for corrupt data
        raise DataError(
            f"product {product_id!r}: image {where} cannot be decoded ({type(e).__name__}: {e}); "
            f"replace the file or pass on_bad_image='skip'"
        ) from None

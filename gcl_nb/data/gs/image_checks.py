"""Load-time image checks: which products have a missing or unreadable image, per the on_bad_image policy."""

from __future__ import annotations

import warnings

from gcl_nb.data.gs.containers import Corpus
from gcl_nb.data.gs.images import FolderImages
from gcl_nb.data.schema import DataError


def check_corpus_images(corpora: dict[int, Corpus], mode: str, on_bad_image: str) -> tuple[str, ...]:
    """The products whose image is missing or unreadable (`mode`: none | exists | decode), recorded as each
    corpus's `without_image`; with on_bad_image="error", a DataError naming the first instead. A product whose
    corpus entry names no image (tarball: no image_local; parquet: a null image) has none: it is without image, not
    bad."""
    bad: dict[str, str] = {}
    for corpus in corpora.values():
        images = corpus.images
        unnamed = {pid for pid in corpus.products.index if not images.names_image(pid)}
        if mode in ("exists", "decode"):
            if isinstance(images, FolderImages):
                present = images.present()
                for pid in corpus.products.index:
                    if pid not in unnamed and images.names[pid] not in present:
                        bad[pid] = f"missing image file {images.describe(pid)}"
            else:
                for pid in (p for p in images.empty_rows() if p not in unnamed):
                    bad[pid] = f"no image bytes in {images.describe(pid)}"
        if mode == "decode":
            for pid in corpus.products.index:
                if pid in bad or pid in unnamed:
                    continue
                try:
                    corpus.load_image(pid)
                except DataError as e:
                    bad[pid] = str(e)
        if bad and on_bad_image == "error":
            pid, why = next(iter(bad.items()))
            raise DataError(
                f"product {pid!r} (corpus half {corpus.half}): {why}; {len(bad)} product(s) have a bad "
                f"image. Point image_root (--image-root) at the image folder, or pass "
                f"on_bad_image='skip' (--on-bad-image skip) to load without them"
            )
        corpus.without_image = frozenset(p for p in corpus.products.index if p in bad or p in unnamed)
    if bad:
        warnings.warn(
            f"skipped {len(bad)} missing or unreadable image(s); those products keep their title only "
            f"(GSData.bad_images)",
            stacklevel=3,
        )
    return tuple(bad)

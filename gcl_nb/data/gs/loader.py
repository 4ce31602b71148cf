"""load_gs: detect the release layout of a folder, check it is complete, read it, check its images, report missing
fields."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd

from gcl_nb.data.atomic_files import check_not_partial
from gcl_nb.data.gs.containers import GSData
from gcl_nb.data.gs.image_checks import check_corpus_images
from gcl_nb.data.gs.parquet_read import load_parquet, parquet_files
from gcl_nb.data.gs.tarball import load_tarball
from gcl_nb.data.schema import (
    CHECK_IMAGES,
    ON_BAD_IMAGE,
    PREPARE_REPORT,
    SPLIT_FILE_STEMS,
    SPLITS,
    DataError,
    check_choice,
    check_corpus_scope,
    check_split,
)


def _detect_layout(root: Path) -> str:
    if any((root / f"{stem}.csv").is_file() for stem in SPLIT_FILE_STEMS.values()):
        return "tarball"
    if any(parquet_files(root, s) for s in SPLITS):
        return "parquet"
    raise DataError(
        f"{root}: no Marqo-GS split found; expected query_{{0,1}}_product_id_{{0,1}}.csv (tarball) or "
        f"<split>/*.parquet, data/<split>-*.parquet, <split>-*.parquet (parquet) for splits "
        f"{', '.join(SPLITS)}"
    )


def _check_complete(root: Path, layout: str) -> None:
    """DataError naming what a folder made by `gcl-nb prepare` lacks: a file its report lists, or, in a folder
    prepared before reports listed their files, a split or corpus file (prepare writes all four splits)."""
    report = root / PREPARE_REPORT
    if not report.is_file():
        return  # not made by prepare: a release download may hold any of the splits
    try:
        listed = json.loads(report.read_text(encoding="utf-8")).get("files")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise DataError(
            f"{report}: unreadable ({e}): gcl-nb prepare did not complete this folder; make it again with "
            f"gcl-nb prepare (into a new --out)"
        ) from None
    if listed is not None:
        missing = [name for name in listed if not (root / name).is_file()]
    elif layout == "tarball":
        expected = [f"{stem}.csv" for stem in SPLIT_FILE_STEMS.values()] + ["corpus_1.json", "corpus_2.json"]
        missing = [name for name in expected if not (root / name).is_file()]
    else:
        missing = [f"the {split} shards" for split in SPLITS if not parquet_files(root, split)]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DataError(
            f"{root}: incomplete data folder: {', '.join(missing[:3])}{more} missing (made by gcl-nb prepare, "
            f"see {PREPARE_REPORT}); make it again with gcl-nb prepare (into a new --out)"
        )


def _warn_missing_titles(missing: pd.DataFrame) -> None:
    lacking = missing[missing["no_title"] > 0]
    if len(lacking):
        counts = ", ".join(f"{name} {row.no_title:,} of {row.rows:,}" for name, row in lacking.iterrows())
        warnings.warn(
            f"rows without a title: {counts}; they load with an empty title, which gets weight 0 in the "
            f"fused embedding (BM25 sees an empty text); counts per field in GSData.missing",
            stacklevel=3,
        )


def load_gs(
    path, image_root=None, on_bad_image: str = "error", check_images: str = "exists", splits=None, corpus: str = "half"
) -> GSData:
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
    check_choice("on_bad_image", on_bad_image, ON_BAD_IMAGE)
    check_choice("check_images", check_images, CHECK_IMAGES)
    check_corpus_scope(corpus)
    check_not_partial(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass the subset folder (e.g. marqo_gs_wfash_1m) or a SynthShop root")
    wanted = tuple(check_split(s) for s in splits) if splits is not None else SPLITS
    layout = _detect_layout(root)
    _check_complete(root, layout)
    if layout == "tarball":
        images = Path(image_root) if image_root else root / "images"
        tables, corpora, derived = load_tarball(root, images, wanted)
    else:
        tables, corpora, derived = load_parquet(root, wanted, corpus)
    if not tables:
        raise DataError(f"{root}: none of the requested splits {list(wanted)} is present")
    bad = check_corpus_images(corpora, check_images, on_bad_image)
    data = GSData(
        root=root,
        layout=layout,
        corpora=corpora,
        tables=tables,
        bad_images=bad,
        corpus_scope=corpus,
        derived_columns=derived,
    )
    _warn_missing_titles(data.missing)
    return data

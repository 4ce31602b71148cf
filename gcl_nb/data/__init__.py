"""Data layer: SynthShop generator, Marqo-GS loaders (tarball + parquet), parquet export.

The torch side (needs torch, imported separately): gcl_nb.data.datasets (PairDataset, CorpusDataset,
collate_pairs), image_cache (ImageCache), pair_lookup (PairLookup), batch_sampler (UniqueQueryBatchSampler),
atomic_files (atomic_torch_save, atomic_write_json: files never left half-written).
"""

from gcl_nb.data.gs import Corpus, GSData, export_parquet, load_gs
from gcl_nb.data.options import DataOptions
from gcl_nb.data.schema import (
    PAIR_COLUMNS,
    SPLIT_CORPUS,
    SPLIT_FILE_STEMS,
    SPLITS,
    DataError,
    SettingError,
    check_split,
)
from gcl_nb.data.synthshop import make_synthshop

__all__ = [
    "Corpus",
    "GSData",
    "load_gs",
    "DataOptions",
    "export_parquet",
    "make_synthshop",
    "DataError",
    "SettingError",
    "check_split",
    "PAIR_COLUMNS",
    "SPLITS",
    "SPLIT_CORPUS",
    "SPLIT_FILE_STEMS",
]

"""Data layer: SynthShop generator, Marqo-GS loaders (tarball + parquet), parquet export.

Torch datasets live in `gcl_nb.data.torch_data` (imported separately, it needs torch).
"""
from .gs import Corpus, GSData, load_gs
from .options import DataOptions
from .parquet import export_parquet
from .schema import PAIR_COLUMNS, SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS, DataError, check_split
from .synthshop import make_synthshop

__all__ = ["Corpus", "GSData", "load_gs", "DataOptions", "export_parquet", "make_synthshop", "DataError", "check_split",
           "PAIR_COLUMNS", "SPLITS", "SPLIT_CORPUS", "SPLIT_FILE_STEMS"]

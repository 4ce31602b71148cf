"""Data layer: SynthShop generator, Marqo-GS loaders (tarball + parquet), parquet export.

Torch datasets live in `gcl_nb.data.torch_data` (imported separately, it needs torch).
"""
from gcl_nb.data.gs import Corpus, GSData, load_gs
from gcl_nb.data.options import DataOptions
from gcl_nb.data.parquet import export_parquet
from gcl_nb.data.schema import PAIR_COLUMNS, SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS, DataError, check_split
from gcl_nb.data.synthshop import make_synthshop

__all__ = ["Corpus", "GSData", "load_gs", "DataOptions", "export_parquet", "make_synthshop", "DataError", "check_split",
           "PAIR_COLUMNS", "SPLITS", "SPLIT_CORPUS", "SPLIT_FILE_STEMS"]

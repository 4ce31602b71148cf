"""Marqo-GS-10M (or SynthShop) in either release layout, loaded into one representation (GSData).

    loader.py         load_gs: layout detection, then read -> check images -> count missing fields
    tarball.py        the tarball layout reader (split CSVs, corpus JSON, image folder)
    parquet_read.py   the parquet layout reader (Hugging Face shards)
    parquet_write.py  export_parquet: any loaded folder -> the parquet layout
    release_writer.py the tarball layout written from split rows and corpus entries (prepare, SynthShop)
    release_split.py  the release's split procedure (80/20 queries, 50/50 products, dev/test) and score columns
    validation.py     split-table checks and derived columns, shared by both readers
    images.py         image backends (folder, parquet row groups) and decoding
    image_checks.py   load-time image checks (on_bad_image policy)
    containers.py     Corpus and GSData

A missing or empty title (or image, with on_bad_image="skip") loads: the field gets weight 0 in the fused
embedding; `GSData.missing` counts them. Errors name the file, the physical line (CSV) or row (parquet) and what
to do.
"""

from gcl_nb.data.gs.containers import Corpus, GSData
from gcl_nb.data.gs.loader import load_gs
from gcl_nb.data.gs.parquet_write import export_parquet

__all__ = ["Corpus", "GSData", "load_gs", "export_parquet"]

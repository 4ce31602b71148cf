"""SynthShop: a generated, offline, seeded product-search data set in the Marqo-GS-10M layout.

Products (catalog.py) get a PIL image (images.py) and a shop title (titles.py); shopper queries (queries.py) are
ranked over all products by a graded-match engine (engine.py); rows go to the four Marqo-GS splits by (query side,
product half) with positions from the full ranking (the release's procedure, gcl_nb.data.gs.release_split);
writer.py writes the tarball layout (gcl_nb.data.gs.release_writer) and SynthShop's own files. generator.py runs
these steps, each with its own random stream (random_streams.py); presets.py holds the parameters and the named
sizes.
Same seed, same bytes. `gcl-nb make-data --preset P --seed S --out DIR` runs `make_synthshop`.
"""

from gcl_nb.data.synthshop.engine import MATCH_LEVELS
from gcl_nb.data.synthshop.generator import generate_tables, make_synthshop, ranking_stats
from gcl_nb.data.synthshop.presets import SYNTHSHOP_PRESETS, SynthShopParams

__all__ = ["make_synthshop", "generate_tables", "ranking_stats", "SYNTHSHOP_PRESETS", "SynthShopParams", "MATCH_LEVELS"]

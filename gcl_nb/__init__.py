"""GCL workbench: Generalized Contrastive Learning for multi-modal retrieval and ranking.

Library layout: `gcl_nb.data` (SynthShop generator, Marqo-GS loaders, torch datasets), `gcl_nb.weights`
and `gcl_nb.loss` (score-to-weight functions, the GCL loss), `gcl_nb.models` (multi-field open_clip
encoders), `gcl_nb.train`, `gcl_nb.metrics`, `gcl_nb.evaluate`, `gcl_nb.viz`.
"""

__version__ = "0.1.0"

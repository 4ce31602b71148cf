"""GCL workbench: Generalized Contrastive Learning for multi-modal retrieval and ranking.

Library layout: `gcl_nb.data` (SynthShop generator, Marqo-GS loaders, torch datasets), `gcl_nb.losses.weights`
and `gcl_nb.losses.gcl_loss` (score-to-weight functions, the GCL loss), `gcl_nb.models` (multi-field open_clip
encoders), `gcl_nb.training.loop`, `gcl_nb.metrics`, `gcl_nb.evaluation.protocol`, `gcl_nb.viz`.
"""

__version__ = "0.1.0"

"""GCL workbench: Generalized Contrastive Learning for multi-modal retrieval and ranking.

The library, in layers (each imports only those below it; docs/ARCHITECTURE.md): `gcl_nb.data` (Marqo-GS
loaders, torch datasets, the SynthShop generator), `gcl_nb.losses` (score-to-weight functions, the GCL loss),
`gcl_nb.models` (multi-field open_clip encoders), `gcl_nb.training`, `gcl_nb.retrieval`, `gcl_nb.metrics`,
`gcl_nb.evaluation` (the official protocol), `gcl_nb.viz`. The workbench app on top of it: `gcl_nb.workbench`
(the `gcl-nb` command line, presets, experiments and reports, the notebooks runner).
"""

__version__ = "0.1.0"

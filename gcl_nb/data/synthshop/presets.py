"""SynthShop generator parameters and the named sizes (smoke / cpu / cpu-large / gpu).

A preset is data: the fields it changes from SynthShopParams' defaults, which are the `cpu` size, the same
style as the training presets (gcl_nb.workbench.presets.TRAIN_PRESETS)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from gcl_nb.data.gs.release_split import RELEASE_LARGEST_POSITION


@dataclass(frozen=True)
class SynthShopParams:
    """Everything that shapes a generated data set (written to synthshop.json).

    n_products / n_queries: catalogue and query counts; top_n: results kept per query (positions 1..top_n);
    image_size: square image side in pixels; popularity_strength / noise_strength: weights of product popularity
    and per-(query, product) noise in the within-level tie-break (see engine.py); exact_fraction: queries may have
    at most floor(exact_fraction * top_n) exact matches; query_fraction: share of queries on side 0 (the 80%);
    p_category: chance a query names the category; p_omit_colour / p_omit_other: chance a title leaves out the
    colour / the style, material and size (the brand a third as often); jpeg_quality: image encoding quality."""

    n_products: int = 4000
    n_queries: int = 400
    top_n: int = 100
    image_size: int = 64
    popularity_strength: float = 1.0
    noise_strength: float = 1.0
    exact_fraction: float = 0.25
    query_fraction: float = 0.8
    p_category: float = 0.85
    p_omit_colour: float = 0.3
    p_omit_other: float = 0.25
    jpeg_quality: int = 92

    def __post_init__(self):
        if min(self.n_products, self.n_queries, self.top_n, self.image_size) < 1:
            raise ValueError(f"n_products, n_queries, top_n and image_size must be >= 1: {self}")
        if self.top_n > RELEASE_LARGEST_POSITION:
            raise ValueError(
                f"top_n={self.top_n}: at most {RELEASE_LARGEST_POSITION} (score_linear = "
                f"{RELEASE_LARGEST_POSITION + 1} - position must stay >= 1)"
            )
        if not 0 < self.query_fraction < 1:
            raise ValueError(f"query_fraction={self.query_fraction} must lie in (0, 1)")
        if self.popularity_strength < 0 or self.noise_strength < 0:
            raise ValueError("popularity_strength and noise_strength must be >= 0")


#: preset name -> the SynthShopParams fields it changes from the defaults (`cpu`)
SYNTHSHOP_PRESETS: dict[str, dict] = {
    "smoke": dict(n_products=400, n_queries=64, top_n=30, image_size=32),
    "cpu": {},
    # enough training queries (1280) for batches of 1024 distinct queries, same products per query as `cpu`
    "cpu-large": dict(n_products=16_000, n_queries=1600),
    "gpu": dict(n_products=120_000, n_queries=12_000, top_n=100, image_size=96),
}


def preset_params(preset: str, **overrides) -> SynthShopParams:
    """The preset's parameters with `overrides` applied (unknown names raise ValueError)."""
    if preset not in SYNTHSHOP_PRESETS:
        raise ValueError(f"unknown SynthShop preset {preset!r}: choose one of {', '.join(SYNTHSHOP_PRESETS)}")
    known = {f.name for f in fields(SynthShopParams)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown SynthShop parameter(s) {sorted(unknown)}: known are {sorted(known)}")
    return SynthShopParams(**{**SYNTHSHOP_PRESETS[preset], **overrides})

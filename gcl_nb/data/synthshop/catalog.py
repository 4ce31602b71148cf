"""SynthShop product attributes and the product catalogue.

Each attribute has a vocabulary; some are drawn in the image only (pattern), some are written in the title only
(brand, material, style, size), some show in both (category, colour). Related values (categories of the same
group, colours of a shared family) get partial credit in the ranking engine (see engine.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: category -> (group, title/query words). Categories of one group are "related".
CATEGORIES = {
    "shirt": ("tops", ["shirt", "t-shirt", "tee", "top"]),
    "sweater": ("tops", ["sweater", "jumper", "pullover", "knit sweater"]),
    "dress": ("tops", ["dress", "midi dress", "sundress"]),
    "skirt": ("bottoms", ["skirt", "mini skirt", "a-line skirt"]),
    "trousers": ("bottoms", ["trousers", "pants", "slacks", "chinos"]),
    "shorts": ("bottoms", ["shorts", "bermuda shorts"]),
    "shoe": ("footwear", ["shoes", "sneakers", "trainers"]),
    "boot": ("footwear", ["boots", "ankle boots"]),
    "bag": ("accessories", ["handbag", "bag", "tote", "purse"]),
    "backpack": ("accessories", ["backpack", "rucksack", "daypack"]),
    "hat": ("accessories", ["hat", "bucket hat", "sun hat"]),
    "mug": ("home", ["mug", "cup", "coffee mug"]),
    "vase": ("home", ["vase", "flower vase"]),
    "lamp": ("home", ["lamp", "table lamp", "desk lamp"]),
}

#: colour -> (RGB, families, words). Colours sharing a family are "related".
COLOURS = {
    "red": ((200, 30, 40), ("reds",), ["red", "scarlet"]),
    "pink": ((240, 130, 170), ("reds",), ["pink", "rose"]),
    "purple": ((120, 50, 150), ("reds", "blues"), ["purple", "violet"]),
    "orange": ((240, 130, 20), ("reds", "warm"), ["orange"]),
    "yellow": ((240, 210, 40), ("warm",), ["yellow", "mustard"]),
    "brown": ((110, 70, 35), ("warm", "earth"), ["brown", "chocolate"]),
    "beige": ((215, 190, 150), ("earth", "neutral"), ["beige", "tan", "sand"]),
    "green": ((40, 140, 60), ("greens",), ["green", "emerald"]),
    "teal": ((20, 130, 130), ("greens", "blues"), ["teal", "turquoise"]),
    "blue": ((40, 90, 210), ("blues",), ["blue", "cobalt"]),
    "navy": ((20, 30, 90), ("blues",), ["navy", "navy blue", "dark blue"]),
    "black": ((20, 20, 20), ("neutral",), ["black", "jet black"]),
    "grey": ((130, 130, 130), ("neutral",), ["grey", "gray"]),
    "white": ((245, 245, 245), ("neutral",), ["white", "ivory"]),
}

#: pattern -> query words. Patterns are drawn in the image and never written in titles.
PATTERNS = {
    "solid": ["plain", "solid"],
    "striped": ["striped", "stripe"],
    "dotted": ["dotted", "polka dot", "spotted"],
    "checked": ["checked", "plaid", "gingham"],
    "zigzag": ["zigzag", "chevron"],
}

#: category group -> materials that products of the group are made of (title only).
MATERIALS = {
    "tops": ["cotton", "wool", "linen", "silk", "polyester"],
    "bottoms": ["cotton", "denim", "linen", "wool", "polyester"],
    "footwear": ["leather", "suede", "canvas", "rubber"],
    "accessories": ["leather", "canvas", "nylon", "wool", "straw"],
    "home": ["ceramic", "glass", "metal", "wood", "porcelain"],
}

BRANDS = [
    "acme",
    "northwind",
    "lumen",
    "bellamy",
    "orla",
    "kestrel",
    "marlow",
    "vantage",
    "tidewell",
    "corvo",
    "halden",
    "juniper",
    "solace",
    "ferris",
    "brio",
    "quill",
]
STYLES = ["casual", "formal", "vintage", "sporty", "classic", "modern", "minimalist"]

#: category group -> size labels (title only; never queried).
SIZES = {
    "tops": ["XS", "S", "M", "L", "XL"],
    "bottoms": ["XS", "S", "M", "L", "XL"],
    "footwear": ["37", "38", "39", "40", "41", "42", "43", "44"],
    "accessories": ["small", "medium", "large"],
    "home": ["small", "medium", "large"],
}

#: attributes a query can name, in the order shoppers type them (category last).
QUERY_ATTRIBUTES = ("brand", "style", "colour", "pattern", "material", "category")


def category_names() -> list[str]:
    return list(CATEGORIES)


def colour_names() -> list[str]:
    return list(COLOURS)


def related_categories(a: str, b: str) -> bool:
    return a != b and CATEGORIES[a][0] == CATEGORIES[b][0]


def related_colours(a: str, b: str) -> bool:
    return a != b and bool(set(COLOURS[a][1]) & set(COLOURS[b][1]))


def product_ids(n: int, seed: int) -> list[str]:
    """Twenty-digit numeric ids (above the int64 range, like real shop ids that CSV readers mangle).

    id_i = 10^19 + (i * A + offset) mod 10^19 with A coprime to 10, so ids are unique."""
    a, m = 7_392_118_473_651_920_483, 10**19
    offset = ((seed + 1) * 4_611_686_018_427_387_847) % m
    return [str(m + (i * a + offset) % m) for i in range(n)]


def make_catalog(n_products: int, rng: np.random.Generator, seed: int) -> pd.DataFrame:
    """Sample `n_products` products: one row each with product_id, the attributes and a popularity.

    popularity = exp(0.5 * brand_effect + 0.8 * N(0, 1)), brand effects Zipf-like (log(1/rank))."""
    cats = np.array(category_names())
    cat = rng.choice(cats, size=n_products)
    group = np.array([CATEGORIES[c][0] for c in cat])
    colour = rng.choice(np.array(colour_names()), size=n_products)
    pattern = rng.choice(np.array(list(PATTERNS)), size=n_products, p=[0.36, 0.16, 0.16, 0.16, 0.16])
    brand_weights = 1.0 / np.arange(1, len(BRANDS) + 1) ** 0.6
    brand_idx = rng.choice(len(BRANDS), size=n_products, p=brand_weights / brand_weights.sum())
    material = np.array(
        [MATERIALS[g][i % len(MATERIALS[g])] for g, i in zip(group, rng.integers(0, 1000, size=n_products))]
    )
    size = np.array([SIZES[g][i % len(SIZES[g])] for g, i in zip(group, rng.integers(0, 1000, size=n_products))])
    style = rng.choice(np.array(STYLES), size=n_products)
    brand_effect = -np.log1p(brand_idx)
    popularity = np.exp(0.5 * brand_effect + 0.8 * rng.standard_normal(n_products))
    return pd.DataFrame(
        {
            "product_id": product_ids(n_products, seed),
            "category": cat,
            "colour": colour,
            "pattern": pattern,
            "material": material,
            "brand": np.array(BRANDS)[brand_idx],
            "style": style,
            "size": size,
            "popularity": np.round(popularity, 6),
        }
    )

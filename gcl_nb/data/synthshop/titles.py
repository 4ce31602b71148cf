"""Shop-style product titles: brand + attributes + category, with synonym, word-order and omission noise.

Titles never mention the pattern (it is only visible in the image). The colour is left out of a share of titles
(`p_omit_colour`), so the image is then the only place the colour shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gcl_nb.data.synthshop.catalog import CATEGORIES, COLOURS

# {b}rand, {s}tyle, {c}olour, {m}aterial, {k} category word, {z} size; empty parts are dropped.
TEMPLATES = (
    "{b} {s} {c} {m} {k} - Size {z}",
    "{b} {c} {m} {k}, {s}, {z}",
    "{c} {k} by {b} | {m} | {s}",
    "{b} - {s} {m} {k} ({c})",
    "{b} {k} {c} {m} {s} {z}",
)


def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _tidy(text: str) -> str:
    """Drop the separators left around omitted parts and capitalise like a shop listing."""
    text = " ".join(text.split())
    for junk, repl in (("( )", ""), ("()", ""), ("| |", "|"), (", ,", ","), (" ,", ",")):
        text = text.replace(junk, repl)
    text = " ".join(text.split()).strip(" ,|-")
    return " ".join(
        w if w.isupper() or w[0].isdigit() else (w[:2].upper() + w[2:] if w[0] == "(" else w[:1].upper() + w[1:])
        for w in text.split()
    )


def make_title(row: pd.Series, rng: np.random.Generator, p_omit_colour: float, p_omit_other: float) -> str:
    def keep(p: float) -> bool:
        return bool(rng.random() >= p)

    parts = {
        "b": row.brand if keep(p_omit_other / 3) else "",
        "s": row["style"] if keep(p_omit_other) else "",
        "c": _pick(rng, COLOURS[row.colour][2]) if keep(p_omit_colour) else "",
        "m": row.material if keep(p_omit_other) else "",
        "k": _pick(rng, CATEGORIES[row.category][1]),
        "z": row["size"] if keep(p_omit_other) else "",
    }
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    if not parts["b"]:
        template = template.replace(" by {b}", "")
    if not parts["z"]:
        template = template.replace(" - Size {z}", "").replace(", {z}", "")
    return _tidy(template.format(**parts))


def make_titles(
    products: pd.DataFrame, rng: np.random.Generator, p_omit_colour: float, p_omit_other: float
) -> list[str]:
    return [make_title(row, rng, p_omit_colour, p_omit_other) for _, row in products.iterrows()]

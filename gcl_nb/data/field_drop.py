"""Remove a document field from a seeded share of the products, to measure a model on incomplete catalogues.

    incomplete = drop_fields(data, {"title": 0.3}, seed=0)   # 30% of each corpus half's titles removed

A removed text field becomes "" and a removed image is marked missing (`Corpus.without_image`), exactly as a
product that never had it: the fused embedding gives the field weight 0 and renormalises over the rest, BM25
sees an empty text. Only the corpora change (what evaluation searches), not the split tables. A field is removed
only from products that keep another field of `fields` (the model's document fields; default every field of the
corpus), and the share counts the products that have the field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from gcl_nb.data.gs.containers import Corpus, GSData
from gcl_nb.data.schema import SettingError


def _present(corpus: Corpus, name: str) -> np.ndarray:
    if name == "image":
        return ~corpus.products.index.isin(list(corpus.without_image))
    return corpus.products[name].fillna("").astype(str).str.strip().ne("").to_numpy()


def _corpus_fields(corpus: Corpus) -> list[str]:
    return ["image", *[c for c in corpus.products.columns if c != "image_local"]]


def drop_fields(
    data: GSData, shares: Mapping[str, float], seed: int = 0, fields: Sequence[str] | None = None
) -> GSData:
    """A copy of `data` whose corpora lack each field of `shares` for that share of their products (seeded per
    corpus half and field; see the module docstring). SettingError for an unknown field or a share outside [0, 1]."""
    corpora = {}
    for half, corpus in data.corpora.items():
        names = list(fields) if fields is not None else _corpus_fields(corpus)
        products, without_image = corpus.products.copy(), set(corpus.without_image)
        for k, (name, share) in enumerate(shares.items()):
            if name not in names or (name != "image" and name not in products.columns):
                raise SettingError(f"drop field {name!r}: not a document field of corpus half {half} (fields: {names})")
            if not 0.0 <= float(share) <= 1.0:
                raise SettingError(f"drop field {name!r}: the share must be in [0, 1], got {share}")
            current = replace(corpus, products=products, without_image=frozenset(without_image))
            has_it = _present(current, name)
            keeps_other = np.zeros(len(products), dtype=bool)
            for other in names:
                if other != name:
                    keeps_other |= _present(current, other)
            rng = np.random.default_rng([seed, half, k])
            eligible = np.flatnonzero(has_it & keeps_other)
            chosen = products.index[rng.permutation(eligible)[: int(round(float(share) * has_it.sum()))]]
            if name == "image":
                without_image |= set(chosen)
            else:
                products.loc[chosen, name] = ""
        corpora[half] = replace(corpus, products=products, without_image=frozenset(without_image))
    return GSData(
        root=data.root,
        layout=data.layout,
        corpora=corpora,
        tables=data.tables,
        bad_images=data.bad_images,
        corpus_scope=data.corpus_scope,
        derived_columns=data.derived_columns,
    )


def describe_shares(shares: Mapping[str, float]) -> str:
    """{"title": 0.3} -> 'title:0.3' (the form the command line takes; '' when nothing is dropped)."""
    return ",".join(f"{name}:{share:g}" for name, share in shares.items())

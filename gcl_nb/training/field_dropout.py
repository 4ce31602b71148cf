"""Field dropout: train the fused document embedding to work when a field is missing.

    FieldDropout({"title": 0.3}, rhs=["image", "title"], rhs_weights=[0.5, 0.5], seed=0).apply(mask, step)

For each field with a rate p, a seeded share p of a batch's rows lose that field: its presence mask turns False,
so the model fuses the row over its remaining fields, renormalised exactly as evaluation fuses a product whose
field is missing (gcl_nb.models.multifield). A field is never dropped from a row where no other field with a
nonzero weight is present, so every row keeps an embedding. The draw depends only on (seed, step), so resumed
runs drop the same rows.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from gcl_nb.data.schema import SettingError


def check_field_rates(option: str, rates: Mapping[str, float], fields: Sequence[str]) -> dict[str, float]:
    """`rates` as a dict if every name is one of `fields` and every share lies in [0, 1), else SettingError."""
    for name, rate in rates.items():
        if name not in fields:
            raise SettingError(f"{option}: {name!r} is not a document field; the fields are {list(fields)}")
        if not 0.0 <= float(rate) < 1.0:
            raise SettingError(f"{option}: the share of {name!r} must be in [0, 1), got {rate}")
    return {name: float(rate) for name, rate in rates.items()}


class FieldDropout:
    """Drops document fields from seeded shares of each batch's rows (see the module docstring)."""

    def __init__(self, rates: Mapping[str, float], rhs: Sequence[str], rhs_weights: Sequence[float], seed: int):
        self.rates = check_field_rates("field_dropout", rates, rhs)
        self.columns = {name: list(rhs).index(name) for name in self.rates}
        self.weighted = torch.tensor([float(w) > 0 for w in rhs_weights])
        self.seed = seed

    def apply(self, mask: torch.Tensor, step: int, first_row: int = 0, batch_rows: int | None = None) -> torch.Tensor:
        """A copy of the (B, F) presence mask with the step's dropped fields set False. Under torchrun a process
        holds rows `first_row` .. `first_row + B` of a global batch of `batch_rows`: the draw is made for the
        global batch and sliced, so N processes drop the rows one process drops."""
        if not self.rates:
            return mask
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        rows = slice(first_row, first_row + len(mask))
        out = mask.clone()
        for name, rate in self.rates.items():
            i = self.columns[name]
            others = torch.cat([out[:, :i], out[:, i + 1 :]], dim=1) & torch.cat(
                [self.weighted[:i], self.weighted[i + 1 :]]
            )
            drawn = torch.rand(batch_rows or len(out), generator=generator)[rows] < rate
            out[:, i] &= ~(drawn & others.any(dim=1))
        return out

"""The one argument check the figures and tables of gcl_nb.viz share."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def check_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """ValueError naming `what`, the missing `columns` and the columns present, when any is missing."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; got {list(table.columns)}")

"""Tables as data: what the library assembles and a front end (the CLI) renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TableData"]


@dataclass(frozen=True)
class TableData:
    """A table: its column names, its rows keyed by them, a title.

    Attributes:
        columns: the column names, in order (a row may hold other keys; they are not shown).
        rows: one mapping column -> value per row (a missing column is an empty cell).
        title: shown above the table (``None``: none).
        right: columns whose cells are aligned right.
    """

    columns: list[str]
    rows: list[dict[str, Any]]
    title: str | None = None
    right: frozenset[str] = field(default_factory=frozenset)

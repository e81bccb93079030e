"""What a view is made of: tables described once, and projections that write them.

A projection maps each event to operations on its tables (get, put, delete,
append). It never touches a database: the runner gives it tables backed by SQL
rows (batched, with the tracking record in the same transaction), and the fold in
:mod:`handoff_ledger.projections.fold` gives it tables backed by dicts, which is
how tests check the views against a from-scratch fold and how time travel replays
the log in memory.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Protocol
from uuid import UUID

__all__ = [
    "Column",
    "Projection",
    "Row",
    "Table",
    "TableSpec",
    "from_us",
    "to_json",
    "us",
]

Row = dict[str, Any]
Key = tuple[Any, ...]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us(moment: datetime | None) -> int | None:
    """A time as whole microseconds since the epoch: exact, sortable, indexable."""
    if moment is None:
        return None
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int | None) -> datetime | None:
    """The inverse of :func:`us`."""
    if value is None:
        return None
    seconds, micros = divmod(int(value), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Compact JSON of event values (times ISO 8601 UTC, ids as text)."""
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


class Column(StrEnum):
    """The three column types every store can index the same way."""

    TEXT = "text"
    INT = "int"
    REAL = "real"


@dataclass(frozen=True)
class TableSpec:
    """A view table: columns, primary key, the column rows are fetched by, indexes."""

    name: str
    columns: Mapping[str, Column]
    key: tuple[str, ...]
    partition: str
    indexes: tuple[tuple[str, ...], ...] = ()
    append_only: bool = False

    def key_of(self, row: Row) -> Key:
        """The primary key values of ``row``."""
        return tuple(row[c] for c in self.key)


class Table(Protocol):
    """A projection's window onto one table, for the length of one batch."""

    spec: TableSpec

    def get(self, key: Key) -> Row | None:
        """The row with this primary key, or None."""
        ...

    def put(self, row: Row) -> None:
        """Insert or replace the whole row (keyed by its primary key columns)."""
        ...

    def delete(self, key: Key) -> None:
        """Remove the row with this key, if any."""
        ...

    def find(self, partition: Any) -> list[Row]:
        """Every row whose partition column equals ``partition``."""
        ...

    def append(self, row: Row) -> None:
        """Insert a row that is never updated (feeds)."""
        ...


class Projection(ABC):
    """Event → table operations for one view; bump ``version`` when the logic changes."""

    name: ClassVar[str]
    version: ClassVar[int]
    tables: ClassVar[tuple[TableSpec, ...]]

    @abstractmethod
    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        """Apply one event (at log ``position``) to this view's tables."""

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from operator import itemgetter
from typing import Any, ClassVar, Protocol
from uuid import UUID

from handoff_ledger.domain.jsontext import writer

__all__ = [
    "Column",
    "Projection",
    "Row",
    "Table",
    "TableSpec",
    "from_us",
    "text_id",
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


def _default(value: Any) -> Any:
    if type(value) is datetime and value.tzinfo is UTC:  # most times: no conversion
        text: str = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return text_id(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(value: Any) -> str:
    """Compact JSON of event values (times ISO 8601 UTC, ids as text).

    The C encoder does the walking; only values JSON lacks reach ``_default``. One
    encoder for every call (``domain/jsontext.py``: ``JSONEncoder.encode`` builds a
    new one on each call, a third of the notifications view's time for its feed
    details).
    """
    return _write_json(value)


_write_json = writer(json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default))


def text_id(value: UUID) -> str:
    """``str(uuid)``, remembered: every projection asks it of every event.

    Remembered by the id object itself (a hash of its ``id()``, then ``is``), not by
    the UUID's value: ``UUID.__hash__`` is Python code, called millions of times
    over a long log. The decoder hands out one UUID object per id text while it
    remembers it, so the same handoff's events mostly share it.
    """
    found = _TEXTS.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    text = str(value)
    if len(_TEXTS) >= _TEXTS_KEPT:
        _TEXTS.clear()  # bounded: as many ids at 200,000 events as at 1,000,000
    _TEXTS[id(value)] = (value, text)  # keeps ``value`` alive: its id() is not reused
    return text


_TEXTS: dict[int, tuple[UUID, str]] = {}
_TEXTS_KEPT = 16_384


class Column(StrEnum):
    """The three column types every store can index the same way."""

    TEXT = "text"
    INT = "int"
    REAL = "real"


@dataclass(frozen=True)
class TableSpec:
    """A view table: columns, primary key, the column rows are fetched by, indexes.

    A table partitioned by ``handoff_id`` holds a handoff's rows only once one of
    that handoff's own events wrote them, and one partitioned by ``chain_id`` a
    chain's rows only once an event of that chain did (a chain starts with its root
    handoff's creation; the chain id is the root's id): the runner fetches nothing
    for a handoff created, or a chain started, in the batch being applied.
    """

    name: str
    columns: Mapping[str, Column]
    key: tuple[str, ...]
    partition: str
    indexes: tuple[tuple[str, ...], ...] = ()
    append_only: bool = False

    _getter: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        getter = itemgetter(*self.key)
        if len(self.key) == 1:
            object.__setattr__(self, "_getter", lambda row: (getter(row),))
        else:
            object.__setattr__(self, "_getter", getter)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its fields (the key getter is built again): a view's writer
        process receives the specs of the tables it writes."""
        return (
            TableSpec,
            (self.name, dict(self.columns), self.key, self.partition, self.indexes,
             self.append_only),
        )  # fmt: skip

    def key_of(self, row: Row) -> Key:
        """The primary key values of ``row``."""
        key: Key = self._getter(row)
        return key


class Table(Protocol):
    """A projection's window onto one table, for the length of one batch."""

    spec: TableSpec

    def get(self, key: Key) -> Row | None:
        """The row with this primary key, or None. Change it only through ``put``."""
        ...

    def put(self, row: Row) -> None:
        """Insert or replace the whole row (keyed by its primary key columns).

        The table keeps ``row`` itself: build a new dict for every put.
        """
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
    ignores: ClassVar[tuple[type, ...]] = ()
    """Event classes that never change this view: the runner neither applies them nor
    fetches rows for them (a reactor's escalations touch neither queues nor taken
    work). ``tests/integration/test_projection_ignores.py`` checks each claim."""
    unread_by: ClassVar[Mapping[str, tuple[type, ...]]] = {}
    """Tables (by name) whose rows applying these event classes never reads: a batch
    of only such events fetches none of that table's rows (rows it writes are
    upserted). Checked by the same test, on tables that refuse reads."""

    @abstractmethod
    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        """Apply one event (at log ``position``) to this view's tables."""

    def related_partitions(
        self, events: Sequence[tuple[int, Any]], tables: Mapping[str, Table]
    ) -> Mapping[str, Iterable[Any]]:
        """Partitions (by table name) that applying ``events`` will read, found in rows
        already fetched for them rather than named by the events themselves.

        The runner fetches them in one query per table before the events are applied;
        without this each would be read on its own when first asked for (a round trip
        each). Only a hint: a partition missed here is still read when asked for.
        """
        return {}

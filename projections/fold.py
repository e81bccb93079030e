"""Views folded in memory: the same projection code over dict-backed tables.

Used to check the stored views against a from-scratch fold of the log, and to
answer "as it stood at TIME" without touching the live views.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from handoff_ledger.projections.base import Key, Projection, Row, TableSpec

__all__ = ["MemoryTable", "MemoryViews"]


class MemoryTable:
    """A whole table in a dict, keyed by primary key."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.rows: dict[Key, Row] = {}
        self._partitions: dict[Any, set[Key]] = {}

    def get(self, key: Key) -> Row | None:
        """The row with this key, or None."""
        return self.rows.get(key)

    def put(self, row: Row) -> None:
        """Insert or replace."""
        key = self.spec.key_of(row)
        old = self.rows.get(key)
        if old is not None and old[self.spec.partition] != row[self.spec.partition]:
            self._partitions[old[self.spec.partition]].discard(key)
        self.rows[key] = row
        self._partitions.setdefault(row[self.spec.partition], set()).add(key)

    def delete(self, key: Key) -> None:
        """Remove, if present."""
        old = self.rows.pop(key, None)
        if old is not None:
            self._partitions[old[self.spec.partition]].discard(key)

    def find(self, partition: Any) -> list[Row]:
        """Rows of one partition, in no particular order (as ``BatchTable.find``)."""
        return [self.rows[k] for k in self._partitions.get(partition, ())]

    def append(self, row: Row) -> None:
        """Insert-only rows are just rows here."""
        self.put(row)


class MemoryViews:
    """Every table of the given projections, folded from events in memory."""

    def __init__(self, projections: Iterable[Projection]) -> None:
        self.projections = list(projections)
        self.tables: dict[str, MemoryTable] = {
            spec.name: MemoryTable(spec) for p in self.projections for spec in p.tables
        }
        self.position = 0
        self.applied = 0
        """How many events were folded in."""

    def apply(self, event: Any, position: int) -> None:
        """Apply one event at its log position to every projection."""
        for projection in self.projections:
            projection.process(event, position, self.tables)
        self.position = position
        self.applied += 1

    def rows(self, table: str) -> dict[Key, Row]:
        """A table's rows by key (for comparisons)."""
        return self.tables[table].rows

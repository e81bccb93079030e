"""SQL for view tables on both stores: names, DDL, and the batch of row changes.

A view table is described once (:class:`~handoff_ledger.projections.base.TableSpec`);
this module turns the description into SQLite or PostgreSQL statements, and gives
projections a :class:`BatchTable`: rows fetched on demand (a partition at a time),
changed in memory, and written back in one transaction with the tracking record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from handoff_ledger.projections.base import Column, Key, Row, TableSpec

__all__ = ["BatchTable", "Changes", "Dialect"]

_CHUNK = 2000
_ABSENT: Any = object()


def _values(row: Row, columns: list[str]) -> list[Any]:
    """The row's values in column order (None for a column it lacks)."""
    return [row.get(c) for c in columns]


def _all_values(rows: Iterable[Row], columns: list[str]) -> list[Sequence[Any]]:
    """Every row's values in column order; C-speed when every row has every column."""
    rows = list(rows)
    if len(columns) == 1:
        column = columns[0]
        return [[row.get(column)] for row in rows]
    getter = itemgetter(*columns)
    try:
        return list(map(getter, rows))
    except KeyError:
        return [_values(row, columns) for row in rows]


@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL for our statements."""

    backend: str
    schema: str | None = None

    @property
    def mark(self) -> str:
        """The parameter placeholder."""
        return "?" if self.backend == "sqlite" else "%s"

    def type_of(self, column: Column) -> str:
        """The column type."""
        if column is Column.INT:
            return "INTEGER" if self.backend == "sqlite" else "BIGINT"
        if column is Column.REAL:
            return "REAL" if self.backend == "sqlite" else "DOUBLE PRECISION"
        return "TEXT"

    def table(self, name: str) -> str:
        """The qualified, quoted name of a view table."""
        if self.backend == "sqlite" or not self.schema:
            return f'"{name}"'
        return f'"{self.schema}"."{name}"'

    def marks(self, count: int) -> str:
        """``?, ?, ?`` (or ``%s, …``)."""
        return ", ".join([self.mark] * count)

    def create(self, spec: TableSpec, name: str) -> list[str]:
        """CREATE TABLE and CREATE INDEX statements for ``spec`` stored as ``name``."""
        columns = ", ".join(f'"{c}" {self.type_of(t)}' for c, t in spec.columns.items())
        key = ", ".join(f'"{c}"' for c in spec.key)
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table(name)} ({columns}, PRIMARY KEY ({key}))"
        ]
        for number, index in enumerate(spec.indexes):
            cols = ", ".join(f'"{c}"' for c in index)
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "{name}_ix{number}" ON {self.table(name)} ({cols})'
            )
        if spec.partition not in spec.key[:1]:
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "{name}_part" ON {self.table(name)} '
                f'("{spec.partition}")'
            )
        return statements

    def upsert(self, spec: TableSpec, name: str) -> str:
        """INSERT … ON CONFLICT (key) DO UPDATE for every non-key column."""
        columns = list(spec.columns)
        cols = ", ".join(f'"{c}"' for c in columns)
        key = ", ".join(f'"{c}"' for c in spec.key)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in spec.key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.table(name)} ({cols}) VALUES ({self.marks(len(columns))}) "
            f"ON CONFLICT ({key}) {action}"
        )

    def insert(self, spec: TableSpec, name: str) -> str:
        """A plain INSERT (append-only tables; a replayed batch is refused by tracking)."""
        cols = ", ".join(f'"{c}"' for c in spec.columns)
        return f"INSERT INTO {self.table(name)} ({cols}) VALUES ({self.marks(len(spec.columns))})"

    def delete(self, spec: TableSpec, name: str) -> str:
        """DELETE by primary key."""
        where = " AND ".join(f'"{c}" = {self.mark}' for c in spec.key)
        return f"DELETE FROM {self.table(name)} WHERE {where}"

    def array_type(self, column: Column) -> str:
        """PostgreSQL array type of a column, for the ``unnest`` bulk statements."""
        return {Column.INT: "bigint[]", Column.REAL: "float8[]"}.get(column, "text[]")

    def bulk_upsert(self, spec: TableSpec, name: str, *, append: bool = False) -> str:
        """PostgreSQL: upsert every row of a batch in one statement (one array per column).

        psycopg's ``executemany`` costs tens of microseconds of Python per row; one
        ``INSERT … SELECT FROM unnest(…)`` per table per batch costs almost nothing.
        """
        columns = list(spec.columns)
        cols = ", ".join(f'"{c}"' for c in columns)
        arrays = ", ".join(f"%b::{self.array_type(spec.columns[c])}" for c in columns)
        statement = f"INSERT INTO {self.table(name)} ({cols}) SELECT * FROM unnest({arrays})"
        if append:
            return statement
        key = ", ".join(f'"{c}"' for c in spec.key)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in spec.key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return f"{statement} ON CONFLICT ({key}) {action}"

    def copy(self, spec: TableSpec, name: str) -> str:
        """PostgreSQL: COPY rows in (binary)."""
        cols = ", ".join(f'"{c}"' for c in spec.columns)
        return f"COPY {self.table(name)} ({cols}) FROM STDIN (FORMAT BINARY)"

    def copy_type(self, column: Column) -> str:
        """PostgreSQL type of a column, for binary COPY."""
        return {Column.INT: "int8", Column.REAL: "float8"}.get(column, "text")

    def bulk_delete(self, spec: TableSpec, name: str) -> str:
        """PostgreSQL: delete every key of a batch in one statement."""
        arrays = ", ".join(f"%b::{self.array_type(spec.columns[c])}" for c in spec.key)
        keys = ", ".join(f'"{c}"' for c in spec.key)
        match = " AND ".join(f't."{c}" = d."{c}"' for c in spec.key)
        return (
            f"DELETE FROM {self.table(name)} AS t USING unnest({arrays}) AS d({keys}) WHERE {match}"
        )

    def select_partitions(self, spec: TableSpec, name: str, count: int) -> str:
        """Every row of ``count`` partitions (PostgreSQL: one array parameter)."""
        if self.backend == "postgresql":
            array = self.array_type(spec.columns[spec.partition])
            return f'SELECT * FROM {self.table(name)} WHERE "{spec.partition}" = ANY(%b::{array})'
        return f'SELECT * FROM {self.table(name)} WHERE "{spec.partition}" IN ({self.marks(count)})'


class BatchTable:
    """One table's rows for one batch: read on demand, changed in memory, flushed once."""

    def __init__(
        self,
        spec: TableSpec,
        name: str,
        dialect: Dialect,
        cursor: Any,
        base: BatchTable | None = None,
    ) -> None:
        self.spec = spec
        self.name = name
        self.dialect = dialect
        self.cursor = cursor
        self.base = base
        """The previous batch's table, maybe not committed yet: its rows are the
        truth for the partitions it read or wrote (see :meth:`prefetch`)."""
        self._rows: dict[Key, Row | None] = {}
        self._by_partition: dict[Any, set[Key]] = {}
        self._loaded: set[Any] = set()
        self._dirty: set[Key] = set()
        self._stored: set[Key] = set()  # keys read from the database
        self._appended: list[Row] = []
        self._partition_at = spec.key.index(spec.partition)
        self._key_of = spec.key_of
        self._first = spec.key[0]
        self._single = spec.key == (spec.partition,)
        """Keyed by the partition alone (most handoff tables): a partition holds at most
        the row keyed by it, so ``_by_partition`` is not kept (saves a set per row)."""

    # -- reads --------------------------------------------------------------

    def prefetch(self, partitions: Iterable[Any]) -> None:
        """Load every row of these partitions with as few queries as possible."""
        wanted = [p for p in dict.fromkeys(partitions) if p not in self._loaded]
        base = self.base
        if base is not None and wanted:
            wanted = self._from_base(base, wanted)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            params = [chunk] if self.dialect.backend == "postgresql" else chunk
            self.cursor.execute(
                self.dialect.select_partitions(self.spec, self.name, len(chunk)), params
            )
            remember = self._remember
            for row in self.cursor.fetchall():
                # psycopg's dict rows are fresh dicts already; SQLite's rows are not dicts
                remember(row if type(row) is dict else dict(row))
            self._loaded.update(chunk)

    def _from_base(self, base: BatchTable, wanted: list[Any]) -> list[Any]:
        """Take what the previous batch knows of these partitions; the ones still to read.

        A partition the previous batch read is taken whole from it (its rows as that
        batch left them: the database holds them once it commits, and until then
        only this process knows them). Rows it wrote into a partition it never read
        are laid over what the database gives (they win, as rows changed in a batch
        win over stored ones). Copies: a projection may change a row it got.
        """
        rows, by_partition = base._rows, base._by_partition
        remember = self._remember
        unread = []
        mine, mine_by_partition = self._rows, self._by_partition
        single = self._single
        for partition in wanted:
            if single:
                keys: Iterable[Key] = ((partition,),) if (partition,) in rows else ()
            else:
                keys = by_partition.get(partition, ())
            for key in keys:
                row = rows[key]
                if row is not None:
                    remember(dict(row))
                elif key not in mine:  # deleted by the previous batch: gone, whatever is read
                    mine[key] = None
                    if not single:
                        mine_by_partition.setdefault(partition, set()).add(key)
            if partition in base._loaded:
                self._loaded.add(partition)
            else:
                unread.append(partition)
        return unread

    def assume_empty(self, partitions: Iterable[Any]) -> None:
        """Treat these partitions as read and empty (known to hold no rows yet)."""
        self._loaded.update(partitions)

    def _remember(self, row: Row) -> None:
        key = self._key_of(row)
        self._stored.add(key)
        if key not in self._rows:  # rows changed in this batch win over stored ones
            self._rows[key] = row
            if not self._single:
                self._by_partition.setdefault(key[self._partition_at], set()).add(key)

    def get(self, key: Key) -> Row | None:
        """The row with this key as of this point of the batch."""
        row: Row | None = self._rows.get(key, _ABSENT)
        if row is _ABSENT:
            partition = key[self._partition_at]
            if partition in self._loaded:
                return None
            self.prefetch([partition])
            return self._rows.get(key)
        return row

    def find(self, partition: Any) -> list[Row]:
        """Rows of one partition as of this point of the batch."""
        if partition not in self._loaded:
            self.prefetch([partition])
        rows = self._rows
        if self._single:
            row = rows.get((partition,))
            return [] if row is None else [row]
        return [row for k in self._by_partition.get(partition, ()) if (row := rows[k]) is not None]

    # -- writes -------------------------------------------------------------

    def put(self, row: Row) -> None:
        """Insert or replace (in memory until flush)."""
        key = (row[self._first],) if self._single else self._key_of(row)
        rows = self._rows
        if not self._single and key not in rows:
            self._by_partition.setdefault(key[self._partition_at], set()).add(key)
        rows[key] = row
        self._dirty.add(key)

    def delete(self, key: Key) -> None:
        """Remove (in memory until flush)."""
        if key not in self._rows and key[self._partition_at] not in self._loaded:
            self.prefetch([key[self._partition_at]])
        if self._rows.get(key) is not None:
            self._rows[key] = None
            self._dirty.add(key)

    def append(self, row: Row) -> None:
        """An insert-only row."""
        self._appended.append(row)

    def plan(self) -> Changes:
        """Every change of the batch as plain value tuples, ready to be written.

        Taken once the batch is prepared: the next batch, prepared while this one is
        written, may change the same row dicts, never these tuples.
        """
        deletes: list[Sequence[Any]] = []
        # Rows new to the table (their partition was read and did not hold them) and
        # append-only rows are inserted; a row another runner wrote meanwhile makes
        # the insert fail with IntegrityError, like the tracking record would.
        columns = list(self.spec.columns)
        changed: list[Row] = []
        new: list[Row] = []
        stored, loaded, at = self._stored, self._loaded, self._partition_at
        for key in self._dirty:
            row = self._rows.get(key)
            known = key in stored or key[at] not in loaded
            if row is None:
                # A row put and deleted within the batch was never written: skip it.
                if known:
                    deletes.append(key)
            elif known:
                changed.append(row)
            else:
                new.append(row)
        upserts = _all_values(changed, columns)
        inserts = _all_values(self._appended, columns) + _all_values(new, columns)
        self.base = None  # one batch back is all a batch may lean on: memory stays flat
        return Changes(self.spec, self.name, deletes, upserts, inserts)

    def flush(self, cursor: Any) -> int:
        """Write every change of the batch on ``cursor``; returns the number of rows written."""
        return self.plan().write(cursor, self.dialect)


@dataclass(frozen=True)
class Changes:
    """One table's changes in one batch, as value tuples: what a writer sends."""

    spec: TableSpec
    name: str
    deletes: list[Sequence[Any]]
    upserts: list[Sequence[Any]]
    inserts: list[Sequence[Any]]

    def write(self, cursor: Any, dialect: Dialect) -> int:
        """Send the changes on ``cursor``; returns the number of rows written."""
        deletes, upserts, inserts = self.deletes, self.upserts, self.inserts
        if dialect.backend == "postgresql":
            self._write_bulk(cursor, dialect)
        else:
            if deletes:
                cursor.executemany(dialect.delete(self.spec, self.name), deletes)
            if upserts:
                cursor.executemany(dialect.upsert(self.spec, self.name), upserts)
            if inserts:
                cursor.executemany(dialect.insert(self.spec, self.name), inserts)
        return len(deletes) + len(upserts) + len(inserts)

    def _write_bulk(self, cursor: Any, dialect: Dialect) -> None:
        def by_column(rows: list[Sequence[Any]]) -> list[list[Any]]:
            return [list(column) for column in zip(*rows, strict=True)]

        spec, name = self.spec, self.name
        # %b marks: binary parameters; psycopg's text array dumper runs a regex per element.
        if self.deletes:
            cursor.execute(dialect.bulk_delete(spec, name), by_column(self.deletes))
        if self.upserts:
            cursor.execute(dialect.bulk_upsert(spec, name), by_column(self.upserts))
        if self.inserts:
            # COPY costs the server less than INSERT … SELECT FROM unnest(…).
            with cursor.copy(dialect.copy(spec, name)) as copy:
                copy.set_types([dialect.copy_type(t) for t in spec.columns.values()])
                for row in self.inserts:
                    copy.write_row(row)

"""Where the views live: tables beside the events, and each view's tracking record.

Views are stored in the same database as the events. Each view's position is the
eventsourcing tracking record (single-row tracking, keyed by view name), written
in the same transaction as the view's rows: the library refuses a tracking record
that does not move forward, so a batch that another runner already applied is
rolled back whole, and a crash at any point leaves each view as if every event had
been applied exactly once.

Why this module is long (over 400 lines): one ``ViewStore`` owns the connection to
the views' tables on both stores, their tracking records, generations and the
rebuild swap; each of those is a few methods over the same transaction helpers, and
the per-dialect SQL already lives in ``sql.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from eventsourcing.sqlite import SQLiteTrackingRecorder

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import is_read_only
from handoff_ledger.adapters.views.sql import BatchTable, Dialect
from handoff_ledger.projections.base import Column, Projection, TableSpec

if TYPE_CHECKING:  # loaded when used: SQLite users never pay for the PostgreSQL driver
    from eventsourcing.postgres import PostgresTrackingRecorder

__all__ = ["REBUILD_SUFFIX", "ViewStore", "live_name", "rowcount", "shadow_name"]

REBUILD_SUFFIX = "__rebuild"
_META = "hl_view_meta"


def live_name(spec: TableSpec) -> str:
    """The table readers use."""
    return f"hl_{spec.name}"


def shadow_name(spec: TableSpec) -> str:
    """The table a rebuild fills beside the live one."""
    return f"hl_{spec.name}{REBUILD_SUFFIX}"


_READ_ATTEMPTS = 3
_NEWS_WINDOW = 1000
"""How many events after a position ``head_and_news`` looks at before answering "maybe"."""
_DDL_LOCK = 7_240_517_312
"""Advisory lock id held while one process creates the view tables."""


class ViewStore:
    """View tables and tracking records in the ledger's own database."""

    def __init__(self, ledger: Ledger, projections: Sequence[Projection]) -> None:
        self.ledger = ledger
        self.projections = list(projections)
        backend = "sqlite" if "sqlite" in type(ledger.recorder).__module__ else "postgresql"
        datastore: Any = getattr(ledger.recorder, "datastore")  # noqa: B009 - not on the base type
        self.dialect = Dialect(backend=backend, schema=getattr(datastore, "schema", None))
        self.tracking: SQLiteTrackingRecorder | PostgresTrackingRecorder
        if backend == "sqlite":
            self.tracking = SQLiteTrackingRecorder(datastore=datastore)
            self.tracking_table = '"tracking"'
        else:
            from handoff_ledger.adapters.store.postgres import BoundedTrackingRecorder

            self.tracking = BoundedTrackingRecorder(
                datastore=datastore, tracking_table_name=f"{ledger.name.lower()}_tracking"
            )
            self.tracking_table = self.dialect.table(self.tracking.tracking_table_name)
        self.read_only = is_read_only(ledger)
        """A read-only store (an evidence copy): its views are read as they are."""
        if not self.read_only and not self._tables_exist():
            self.create_tables()

    # ------------------------------------------------------------------ schema

    def _tables_exist(self) -> bool:
        """True when the tracking table and every live view table are there."""
        names = [live_name(spec) for p in self.projections for spec in p.tables]
        if self.dialect.backend == "sqlite":
            tracking = "tracking"
        else:
            tracking = self.tracking.tracking_table_name  # type: ignore[union-attr]
        return {tracking, _META, *names} <= self.existing_tables()

    def existing_tables(self) -> set[str]:
        """The names of the tables in the ledger's database (or its schema)."""
        if self.dialect.backend == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {row["name"] for row in rows}
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            [self.dialect.schema or "public"],
        )
        return {row["table_name"] for row in rows}

    def create_tables(self, shadow: bool = False, only: str | None = None) -> None:
        """Create the tracking table and every view table (or a rebuild's shadow tables)."""
        if self.dialect.backend == "sqlite":
            try:
                self.tracking.create_table()
            except IntegrityError:
                # Another process created the tracking table (and its migration record)
                # at the same moment; the second look finds it there.
                self.tracking.create_table()
            with self.transaction() as cursor:
                self._lock_for_writing(cursor)
                self._create_view_tables(cursor, shadow, only)
            return
        with self.transaction() as cursor:
            # Concurrent CREATE … IF NOT EXISTS can still collide in PostgreSQL's
            # catalog: one process creates, the others wait here and find it done.
            # They must then run no DDL at all: CREATE INDEX IF NOT EXISTS still locks
            # the table, and would deadlock with runners already writing to it.
            cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            if not shadow and self._tables_exist():
                return
            self.tracking.create_table()  # on another pooled connection, under our lock
            self._create_view_tables(cursor, shadow, only)

    def _create_view_tables(self, cursor: Any, shadow: bool, only: str | None) -> None:
        integer = self.dialect.type_of(Column.INT)
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.dialect.table(_META)} "
            f'("view" TEXT PRIMARY KEY, "version" {integer}, "generation" {integer} DEFAULT 0)'
        )
        for projection in self.projections:
            if only is not None and projection.name != only:
                continue
            for spec in projection.tables:
                name = shadow_name(spec) if shadow else live_name(spec)
                for statement in self.dialect.create(spec, name):
                    cursor.execute(statement)
            if not shadow:
                m = self.dialect.mark
                cursor.execute(
                    f'INSERT INTO {self.dialect.table(_META)} ("view", "version") '
                    f'VALUES ({m}, {m}) ON CONFLICT ("view") DO NOTHING',
                    (projection.name, projection.version),
                )

    def _lock_for_writing(self, cursor: Any) -> None:
        """On SQLite, take the write lock as the transaction's first statement.

        A transaction whose first statement only reads (``CREATE TABLE IF NOT EXISTS``
        of a table that exists, ``DROP TABLE IF EXISTS`` of one that does not) holds a
        snapshot; its first write then fails at once with ``database is locked`` if
        another process (a live runner) committed since, without waiting. A write that
        changes nothing waits for the lock like any other.
        """
        if self.dialect.backend == "sqlite":
            cursor.execute(f"DELETE FROM {self.tracking_table} WHERE 0")

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self, commit: bool = True) -> Iterator[Any]:
        """A cursor in one transaction on the ledger's database.

        ``commit=False`` is a read. On PostgreSQL it still ends with COMMIT (of
        nothing): psycopg answers every ROLLBACK by forgetting the connection's
        prepared statements and sending ``DEALLOCATE ALL``, so reads that rolled back
        (several per request in ``handoff serve``) kept every statement of the
        pooled connections from staying prepared, and cost a round trip of their own.
        An error inside the block still rolls the transaction back.
        """
        if self.dialect.backend == "postgresql":
            commit = True
        with self.tracking.datastore.transaction(commit=commit) as cursor:
            yield cursor

    @contextmanager
    def _single_read(self) -> Iterator[Any]:
        """A cursor for one read statement: on PostgreSQL outside any transaction.

        The pool's connections are in autocommit mode, so one statement is its own
        snapshot: no BEGIN and COMMIT round trips around it.
        """
        if self.dialect.backend != "postgresql":
            with self.transaction(commit=False) as cursor:
                yield cursor
            return
        datastore: Any = self.tracking.datastore  # PostgreSQL's, typed as SQLite's here
        with datastore.get_connection() as conn, conn.cursor() as cursor:
            yield cursor

    def batch_tables(
        self,
        cursor: Any,
        projection: Projection,
        shadow: bool = False,
        base: dict[str, BatchTable] | None = None,
    ) -> dict[str, BatchTable]:
        """The projection's tables for one batch, on ``cursor``'s transaction.

        ``base``: the same tables of the batch before, maybe not committed yet.
        """
        return {
            spec.name: BatchTable(
                spec,
                shadow_name(spec) if shadow else live_name(spec),
                self.dialect,
                cursor,
                None if base is None else base.get(spec.name),
            )
            for spec in projection.tables
        }

    def generations_in(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        """Each view's generation (bumped by every rebuild swap), read in a transaction."""
        cursor.execute(
            f'SELECT "view", "generation" FROM {self.dialect.table(_META)} '
            f'WHERE "view" IN ({self.dialect.marks(len(names))})',
            list(names),
        )
        found = {name: 0 for name in names}
        for row in cursor.fetchall():
            found[row["view"]] = int(row["generation"] or 0)
        return found

    def check_generation(self, cursor: Any, view: str, generation: int) -> None:
        """Refuse (IntegrityError) a batch prepared before a rebuild swapped ``view``.

        The UPDATE also locks the view's meta row until the batch commits, so a swap
        and a batch of the same view never interleave.
        """
        m = self.dialect.mark
        cursor.execute(
            f'UPDATE {self.dialect.table(_META)} SET "generation" = "generation" '
            f'WHERE "view" = {m} AND "generation" = {m}',
            (view, generation),
        )
        if rowcount(cursor) != 1:
            raise IntegrityError(f"view {view} was rebuilt while this batch was prepared")

    def positions_in(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        """Tracking positions read inside the caller's transaction."""
        found = {name: 0 for name in names}
        cursor.execute(
            f"SELECT application_name, notification_id FROM {self.tracking_table} "
            f"WHERE application_name IN ({self.dialect.marks(len(names))})",
            list(names),
        )
        for row in cursor.fetchall():
            found[row["application_name"]] = int(row["notification_id"] or 0)
        return found

    def prefer_index_reads(self, cursor: Any) -> None:
        """PostgreSQL: for the rest of ``cursor``'s transaction, read by index, serially.

        A batch fetches its partitions' rows 2,000 keys at a time (``= ANY(array)``).
        For that many keys the planner picks a sequential scan of the whole table (a
        parallel one for ``chain_members``) at the default ``random_page_cost``; on
        100,000 open handoffs the index took 6.4 to 10.8 ms per chunk against 9.8 to 37.8 ms
        (docs/performance.md). Every read of a batch (log range, tracking rows,
        partitions) is a key lookup, so the setting costs none of them."""
        if self.dialect.backend == "postgresql":
            cursor.execute(
                "SELECT set_config('enable_seqscan', 'off', true), "
                "set_config('max_parallel_workers_per_gather', '0', true)"
            )

    def positions_and_generations_in(
        self, cursor: Any, names: Sequence[str]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """:meth:`positions_in` and :meth:`generations_in` of live views, one round trip."""
        values = ", ".join([f"({self.dialect.mark})"] * len(names))
        cursor.execute(
            f"WITH v(name) AS (VALUES {values}) "
            f'SELECT v.name AS name, t.notification_id AS position, m."generation" AS generation '
            "FROM v "
            f"LEFT JOIN {self.tracking_table} AS t ON t.application_name = v.name "
            f'LEFT JOIN {self.dialect.table(_META)} AS m ON m."view" = v.name',
            list(names),
        )
        positions = {name: 0 for name in names}
        generations = {name: 0 for name in names}
        for row in cursor.fetchall():
            positions[row["name"]] = int(row["position"] or 0)
            generations[row["name"]] = int(row["generation"] or 0)
        return positions, generations

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """Each view's tracking position (0 when it has processed nothing yet)."""
        with self._single_read() as cursor:
            return self.positions_in(cursor, names)

    def record_position(self, cursor: Any, name: str, expected: int, position: int) -> None:
        """Move ``name`` from ``expected`` to ``position``, or raise IntegrityError.

        Compare-and-set, not just "forward": a batch computed from a position that
        has since changed (another runner, a rebuild's swap) must not be committed.
        """
        m = self.dialect.mark
        cursor.execute(
            f"UPDATE {self.tracking_table} SET notification_id = {m} "
            f"WHERE application_name = {m} AND notification_id = {m}",
            (position, name, expected),
        )
        if rowcount(cursor) == 1:
            return
        if expected == 0:
            # First batch of this view: the primary key refuses a concurrent first batch.
            cursor.execute(
                f"INSERT INTO {self.tracking_table} (application_name, notification_id) "
                f"VALUES ({m}, {m})",
                (name, position),
            )
            return
        raise IntegrityError(f"view {name} moved on from position {expected}")

    def versions(self) -> dict[str, int]:
        """The projection version each stored view was built with."""
        with self._single_read() as cursor:
            cursor.execute(f'SELECT "view", "version" FROM {self.dialect.table(_META)}')
            return {row["view"]: int(row["version"]) for row in cursor.fetchall()}

    def set_version(self, cursor: Any, view: str, version: int) -> None:
        """Record which projection version built ``view``."""
        m = self.dialect.mark
        cursor.execute(
            f'INSERT INTO {self.dialect.table(_META)} ("view", "version") VALUES ({m}, {m}) '
            'ON CONFLICT ("view") DO UPDATE SET "version" = excluded."version"',
            (view, version),
        )

    # ------------------------------------------------------------------ rebuild swap

    def swap_in_shadow(self, cursor: Any, projection: Projection, shadow_tracking: str) -> None:
        """Replace the live tables of ``projection`` with its rebuilt shadow tables.

        The generation is bumped first: that locks the view's meta row, so a batch of
        the live view either commits before the swap starts or is refused after it.
        """
        cursor.execute(
            f'UPDATE {self.dialect.table(_META)} SET "generation" = "generation" + 1 '
            f'WHERE "view" = {self.dialect.mark}',
            (projection.name,),
        )
        for spec in projection.tables:
            live, shadow = live_name(spec), shadow_name(spec)
            cursor.execute(f"DROP TABLE IF EXISTS {self.dialect.table(live)}")
            if self.dialect.backend == "postgresql":
                cursor.execute(f'ALTER TABLE {self.dialect.table(shadow)} RENAME TO "{live}"')
                for number, _ in enumerate(spec.indexes):
                    cursor.execute(
                        f"ALTER INDEX IF EXISTS {self.dialect.table(f'{shadow}_ix{number}')} "
                        f'RENAME TO "{live}_ix{number}"'
                    )
                part = self.dialect.table(f"{shadow}_part")
                cursor.execute(f'ALTER INDEX IF EXISTS {part} RENAME TO "{live}_part"')
            else:
                cursor.execute(f'ALTER TABLE "{shadow}" RENAME TO "{live}"')
                # SQLite keeps index names on rename; recreate them under live names.
                for number, _ in enumerate(spec.indexes):
                    cursor.execute(f'DROP INDEX IF EXISTS "{shadow}_ix{number}"')
                cursor.execute(f'DROP INDEX IF EXISTS "{shadow}_part"')
                for statement in self.dialect.create(spec, live)[1:]:
                    cursor.execute(statement)
        m = self.dialect.mark
        cursor.execute(
            f"DELETE FROM {self.tracking_table} WHERE application_name = {m}", (projection.name,)
        )
        cursor.execute(
            f"UPDATE {self.tracking_table} SET application_name = {m} WHERE application_name = {m}",
            (projection.name, shadow_tracking),
        )
        self.set_version(cursor, projection.name, projection.version)

    def drop_shadow(self, projection: Projection, shadow_tracking: str) -> None:
        """Forget a half-done rebuild (its shadow tables and tracking record)."""
        with self.transaction() as cursor:
            self._lock_for_writing(cursor)
            for spec in projection.tables:
                cursor.execute(f"DROP TABLE IF EXISTS {self.dialect.table(shadow_name(spec))}")
            cursor.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = {self.dialect.mark}",
                (shadow_tracking,),
            )

    # ------------------------------------------------------------------ reads

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read; ``?`` marks are adapted to the store."""
        if self.dialect.backend == "postgresql":
            sql = sql.replace("?", "%s")
        for attempt in range(_READ_ATTEMPTS):
            try:
                with self._single_read() as cursor:
                    cursor.execute(sql, list(params))
                    return [dict(row) for row in cursor.fetchall()]
            except (OperationalError, InterfaceError):
                # A pooled connection the server dropped: a read is safe to repeat.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def analyze(self) -> None:
        """Refresh the query planner's statistics after a bulk load of the views.

        Without them PostgreSQL may scan a whole freshly filled table for "due before
        T" instead of using the index, until autovacuum gets round to it.
        """
        with self.tracking.datastore.transaction(commit=True) as cursor:
            for projection in self.projections:
                for spec in projection.tables:
                    cursor.execute(f"ANALYZE {self.dialect.table(live_name(spec))}")

    def read_log(
        self, cursor: Any, start: int, limit: int, topics: Sequence[str], stop: int | None = None
    ) -> list[tuple[int, str, Any, int, bytes]]:
        """Log entries after ``start`` (up to ``stop``), read in the caller's transaction.

        ``(position, topic, originator_id, originator_version, state)`` tuples: what
        ``recorder.select_notifications`` gives, without building a ``Notification``
        and a ``UUID`` per entry, and on PostgreSQL in binary (no hex-encoded state).
        The state comes without the hash chain's ``prev_hash`` and ``hash`` (cut out
        by the database, :func:`_lean_state`): no view reads them, and they are a
        third of an event's bytes to send and scan. Their events then answer None
        for them (the class defaults).
        """
        stop_clause = "" if stop is None else f" AND {{position}} <= {self.dialect.mark}"
        if self.dialect.backend == "sqlite":
            marks = ", ".join("?" * len(topics))
            statement = (
                f"SELECT rowid, topic, originator_id, originator_version, {_LEAN_STATE_SQLITE} "
                f'FROM "{self._events_table}" WHERE rowid > ?{stop_clause} '
                f"AND topic IN ({marks}) ORDER BY rowid LIMIT ?"
            ).format(position="rowid")
            params: list[Any] = [start, *([] if stop is None else [stop]), *topics, limit]
            raw = cursor.sqlite_cursor.connection.cursor()
            raw.row_factory = None
            raw.execute(statement, params)
            return raw.fetchall()  # type: ignore[no-any-return]
        from psycopg.rows import tuple_row

        statement = (
            f"SELECT notification_id, topic, originator_id::text, originator_version, "
            f"{_LEAN_STATE_POSTGRES} "
            f"FROM {self.dialect.table(self._events_table)} WHERE notification_id > %s"
            f"{stop_clause} AND notification_id <= {self._horizon(cursor)} "
            "AND topic = ANY(%s) ORDER BY notification_id LIMIT %s"
        ).format(position="notification_id")
        params = [start, *([] if stop is None else [stop]), list(topics), limit]
        with cursor.connection.cursor(binary=True, row_factory=tuple_row) as raw:
            # Walk the position index in order. Without fresh statistics of the events
            # table (a log just filled, before autovacuum analysed it) the planner would
            # rather bitmap-scan every later event and sort them: the whole rest of the
            # log read for each batch, 79 ms instead of 3 ms per 5,000 at 200,000 events.
            # (set_config(…, true) is SET LOCAL: two settings in one round trip; then
            # back to PostgreSQL's defaults, which this project never changes.)
            raw.execute(
                "SELECT set_config('enable_sort', 'off', true), "
                "set_config('enable_bitmapscan', 'off', true)"
            )
            raw.execute(statement, params)
            rows: list[tuple[int, str, Any, int, bytes]] = raw.fetchall()
            raw.execute(
                "SELECT set_config('enable_sort', 'on', true), "
                "set_config('enable_bitmapscan', 'on', true)"
            )
            return rows

    def _horizon(self, cursor: Any = None) -> str:
        """PostgreSQL: the highest position a statement may read (positions are
        assigned by transaction id, ``store/log_format.py``): no reader passes an
        event still to be committed below it. Computed before the statement that uses
        it (whose snapshot is later), after a bounded wait for what was committed
        before it; on ``cursor``'s connection when the read is in a transaction."""
        recorder: Any = self.ledger.recorder
        return str(int(recorder.readable(cursor=cursor)))

    @property
    def _events_table(self) -> str:
        return str(self.ledger.recorder.events_table_name)  # type: ignore[attr-defined]

    def count_events_after(self, position: int, topics: Sequence[str]) -> int:
        """How many events of these topics the log holds after ``position``."""
        below = ""
        if self.dialect.backend == "sqlite":  # the library numbers SQLite events by rowid
            events, position_column = '"stored_events"', "rowid"
        else:
            events = self.dialect.table(f"{self.ledger.name.lower()}_events")
            position_column = "notification_id"
            below = f" AND notification_id <= {self._horizon()}"
        marks = ", ".join("?" * len(topics))
        rows = self.query(
            f"SELECT count(*) AS n FROM {events} "
            f"WHERE {position_column} > ?{below} AND topic IN ({marks})",
            [position, *topics],
        )
        return int(rows[0]["n"])

    def head_and_news(self, position: int, topics: Sequence[str]) -> tuple[int, bool]:
        """The log's head, and whether an event of ``topics`` may lie after ``position``.

        One statement, so both answers come from one snapshot: every event up to the
        head is in it (writers are serialised and commit in position order). Only
        the first ``_NEWS_WINDOW`` events after ``position`` are looked at, walking
        the position index (``ORDER BY … LIMIT`` keeps the planner on it even with
        stale statistics); if the window is full, more may lie past it, and the
        answer is "may": True.
        """
        marks = ", ".join("?" * len(topics))
        below, horizon = "", []
        if self.dialect.backend == "sqlite":
            events, column = f'"{self._events_table}"', "rowid"
        else:
            events, column = self.dialect.table(self._events_table), "notification_id"
            below, horizon = " WHERE notification_id <= ?", [int(self._horizon())]
        rows = self.query(
            f"SELECT (SELECT MAX({column}) FROM {events}{below}) AS head, "
            f"COUNT(*) AS seen, COALESCE(SUM(CASE WHEN topic IN ({marks}) THEN 1 ELSE 0 END), 0) "
            f"AS news FROM (SELECT topic FROM {events} WHERE {column} > ? ORDER BY {column} "
            f"LIMIT {_NEWS_WINDOW}) AS recent",
            [*horizon, *topics, position],
        )
        head = int(rows[0]["head"] or 0)
        # The window counts events, not positions: PostgreSQL's positions jump by 2**16
        # from one transaction to the next, so a gap in positions says nothing.
        return head, int(rows[0]["news"]) > 0 or int(rows[0]["seen"]) >= _NEWS_WINDOW

    def table(self, spec: TableSpec) -> str:
        """The live table's qualified name, for queries."""
        return self.dialect.table(live_name(spec))


def _lean_state(backend: str) -> str:
    """SQL for an event's state without ``,"prev_hash":…,"hash":"…"``, when it is there.

    The library writes an event's top-level values in field order, so a handoff
    event's hash links follow its ``chain_id`` (the hex of a tagged id): the cut is
    made only where the bytes are exactly that (``chain_id``'s key 76 bytes before,
    ``prev_hash`` null or 64 characters in quotes, ``hash`` 64 in quotes). Anything
    else (events from before hash chains, other shapes) comes whole.
    """
    sqlite = backend == "sqlite"

    def literal(text: bytes) -> str:
        return f"X'{text.hex()}'" if sqlite else "'\\x" + text.hex() + "'::bytea"

    at = f"instr(state, {literal(_LINKS)})" if sqlite else f"position({literal(_LINKS)} IN state)"

    def holds(offset: int, text: bytes) -> str:
        if sqlite:
            return f"substr(state, {at} + {offset}, {len(text)}) = {literal(text)}"
        return f"substring(state FROM {at} + {offset} FOR {len(text)}) = {literal(text)}"

    def cut(length: int) -> str:
        if sqlite:  # || makes text of blobs: cast back
            return f"CAST(substr(state, 1, {at} - 1) || substr(state, {at} + {length}) AS BLOB)"
        return f"overlay(state PLACING ''::bytea FROM {at} FOR {length})"

    after_chain = f"{at} > 76 AND {holds(-76, _CHAIN_KEY)}"
    linked = f"{holds(13, _QUOTE)} AND {holds(79, _HASH_KEY)} AND {holds(152, _QUOTE)}"
    first = f"{holds(13, _NULL + _HASH_KEY)} AND {holds(90, _QUOTE)}"
    return (
        f"CASE WHEN {after_chain} AND {linked} THEN {cut(153)} "
        f"WHEN {after_chain} AND {first} THEN {cut(91)} ELSE state END"
    )


_LINKS = b',"prev_hash":'
_CHAIN_KEY = b'"chain_id":'
_HASH_KEY = b',"hash":"'
_QUOTE = b'"'
_NULL = b"null"
_LEAN_STATE_SQLITE = _lean_state("sqlite")
_LEAN_STATE_POSTGRES = _lean_state("postgresql")


def rowcount(cursor: Any) -> int:
    """Rows touched by the last statement (the library wraps SQLite's cursor)."""
    raw = getattr(cursor, "sqlite_cursor", cursor)
    return int(raw.rowcount)

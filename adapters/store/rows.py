"""The events table read as stored: rows in (aggregate, version) order, with positions.

The audit and the export need what is really in the table, not what the
repository makes of it, and they need each event's log position. This reads the
rows by keyset pages (the primary key's index), so any log size streams in
constant memory. ``log_rows`` reads the same rows in log order, for a reader that
decodes them itself (``protocol simulate``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import Ledger

__all__ = ["LogRow", "StoredRow", "ids_created_with_prefix", "log_rows", "stored_events"]

_PAGE = 5000

StoredRow = tuple[str, int, str, bytes, int]
"""(originator_id as str(UUID), originator_version, topic, state, log position)."""


LogRow = tuple[int, str, str, int, bytes]
"""(log position, topic, originator_id as the store's text, originator_version, state):
what ``views.decode.EventDecoder.decode_entry`` takes, after the position."""


def log_rows(ledger: Ledger, topics: Sequence[str]) -> Iterator[LogRow]:
    """The log's events of ``topics`` as stored, oldest first, up to its head when called.

    What ``Ledger.read_log`` reads, without a ``Notification`` per event and in pages of
    5,000 (in binary on PostgreSQL). It stops at ``Ledger.head()`` taken first: on
    PostgreSQL the last position below the horizon, so, as every reader of the log,
    it never reads past an event another writer may still commit below it
    (``store/log_format.py``); an event recorded after the call is not read.
    """
    recorder: Any = ledger.recorder
    stop = ledger.head()
    table = recorder.events_table_name
    sqlite = "sqlite" in type(recorder).__module__
    after = 0
    while after < stop:
        page = (
            _sqlite_log_page(recorder, table, topics, after, stop)
            if sqlite
            else _postgres_log_page(recorder, table, topics, after, stop)
        )
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1][0]


def _sqlite_log_page(
    recorder: Any, table: str, topics: Sequence[str], after: int, stop: int
) -> list[LogRow]:
    marks = ", ".join("?" * len(topics))
    statement = (
        f'SELECT rowid, topic, originator_id, originator_version, state FROM "{table}" '
        f"WHERE rowid > ? AND rowid <= ? AND topic IN ({marks}) ORDER BY rowid LIMIT ?"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        raw = cursor.sqlite_cursor.connection.cursor()
        raw.row_factory = None
        raw.execute(statement, [after, stop, *topics, _PAGE])
        return raw.fetchall()  # type: ignore[no-any-return]


def _postgres_log_page(
    recorder: Any, table: str, topics: Sequence[str], after: int, stop: int
) -> list[LogRow]:
    from psycopg.rows import tuple_row

    schema = recorder.datastore.schema
    statement = (
        "SELECT notification_id, topic, originator_id::text, originator_version, state "
        f'FROM "{schema}"."{table}" WHERE notification_id > %s AND notification_id <= %s '
        "AND topic = ANY(%s) ORDER BY notification_id LIMIT %s"
    )
    with (
        recorder.datastore.transaction(commit=False) as cursor,
        cursor.connection.cursor(binary=True, row_factory=tuple_row) as raw,
    ):
        # Walk the position index in order, as the views' reader does (views/store.py):
        # without fresh statistics the planner would rather bitmap-scan and sort the
        # whole rest of the log for each page. (SET LOCAL, in this transaction only.)
        raw.execute(
            "SELECT set_config('enable_sort', 'off', true), "
            "set_config('enable_bitmapscan', 'off', true)"
        )
        raw.execute(statement, [after, stop, list(topics), _PAGE])
        rows: list[LogRow] = raw.fetchall()
        return rows


def stored_events(ledger: Ledger, handoff_id: UUID | None = None) -> Iterator[StoredRow]:
    """Every stored event (or one aggregate's), ordered by aggregate id, then version."""
    recorder: Any = ledger.recorder
    table = recorder.events_table_name
    sqlite = "sqlite" in type(recorder).__module__
    after: tuple[str, int] | None = None
    while True:
        page = (
            _sqlite_page(recorder, table, handoff_id, after)
            if sqlite
            else _postgres_page(recorder, table, handoff_id, after)
        )
        yield from page
        if len(page) < _PAGE:
            return
        after = (page[-1][0], page[-1][1])


def _sqlite_page(
    recorder: Any, table: str, handoff_id: UUID | None, after: tuple[str, int] | None
) -> list[StoredRow]:
    clauses, params = _where(handoff_id, after, "?", "?")
    params = [_hex(p) for p in params]
    statement = (
        f'SELECT originator_id, originator_version, topic, state, rowid FROM "{table}"'
        f"{clauses} ORDER BY originator_id, originator_version LIMIT ?"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        raw = cursor.sqlite_cursor.connection.cursor()
        raw.row_factory = None
        raw.execute(statement, [*params, _PAGE])
        # SQLite holds ids as 32 hex digits; everything else here speaks str(UUID).
        return [(_dashed(r[0]), int(r[1]), r[2], r[3], int(r[4])) for r in raw.fetchall()]


def _postgres_page(
    recorder: Any, table: str, handoff_id: UUID | None, after: tuple[str, int] | None
) -> list[StoredRow]:
    from psycopg.rows import tuple_row

    clauses, params = _where(handoff_id, after, "%s", "%s::uuid")
    schema = recorder.datastore.schema
    statement = (
        f"SELECT originator_id::text, originator_version, topic, state, notification_id "
        f'FROM "{schema}"."{table}"{clauses} ORDER BY originator_id, originator_version '
        "LIMIT %s"
    )
    with (
        recorder.datastore.transaction(commit=False) as cursor,
        cursor.connection.cursor(binary=True, row_factory=tuple_row) as raw,
    ):
        raw.execute(statement, [*params, _PAGE])
        return [(r[0], int(r[1]), r[2], bytes(r[3]), int(r[4])) for r in raw.fetchall()]


def _where(
    handoff_id: UUID | None, after: tuple[str, int] | None, mark: str, id_mark: str
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if handoff_id is not None:
        clauses.append(f"originator_id = {id_mark}")
        params.append(str(handoff_id))
    if after is not None:
        clauses.append(f"(originator_id, originator_version) > ({id_mark}, {mark})")
        params.extend(after)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _dashed(stored_id: str) -> str:
    try:
        return str(UUID(stored_id))
    except ValueError:
        return stored_id


def _hex(param: Any) -> Any:
    if isinstance(param, str) and len(param) == 36:
        try:
            return UUID(param).hex
        except ValueError:
            return param
    return param


def ids_created_with_prefix(ledger: Ledger, prefix: str, topic: str, limit: int) -> list[UUID]:
    """Up to ``limit`` aggregates whose id starts with the hex digits ``prefix`` and
    whose first event has ``topic``, in id order.

    A range scan of the primary key's index: the ids between the prefix padded with
    ``0`` and with ``f`` (hex order is byte order on both stores).
    """
    recorder: Any = ledger.recorder
    table = recorder.events_table_name
    low, high = prefix.ljust(32, "0"), prefix.ljust(32, "f")
    if "sqlite" in type(recorder).__module__:
        with recorder.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor.connection.cursor()
            raw.row_factory = None
            raw.execute(
                f'SELECT originator_id FROM "{table}" WHERE originator_id BETWEEN ? AND ? '
                "AND originator_version = 1 AND topic = ? ORDER BY originator_id LIMIT ?",
                [low, high, topic, limit],
            )
            return [UUID(row[0]) for row in raw.fetchall()]
    from psycopg.rows import tuple_row

    schema = recorder.datastore.schema
    with (
        recorder.datastore.transaction(commit=False) as cursor,
        cursor.connection.cursor(row_factory=tuple_row) as raw,
    ):
        raw.execute(
            f'SELECT originator_id FROM "{schema}"."{table}" '
            "WHERE originator_id BETWEEN %s::uuid AND %s::uuid AND originator_version = 1 "
            "AND topic = %s ORDER BY originator_id LIMIT %s",
            [str(UUID(low)), str(UUID(high)), topic, limit],
        )
        return [UUID(str(row[0])) for row in raw.fetchall()]

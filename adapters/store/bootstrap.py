"""The one place that turns a store URL into a working ledger.

CLI commands, the server, tests and benchmarks all call :func:`open_ledger`, so a
store is configured, prepared (schema created) and opened the same way everywhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any
from urllib.parse import quote

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.caches import ProtocolWatch
from handoff_ledger.adapters.ledger.clock import Clock
from handoff_ledger.adapters.store.data_version import DataVersionWatch
from handoff_ledger.adapters.store.errors import NoLedger, StoreUnavailable, store_failure
from handoff_ledger.adapters.store.guard import GUARD_TRIGGER, keep_guard, upgrade_guard_function
from handoff_ledger.adapters.store.log_format import FORMAT_TABLE, format_statements, read_offset
from handoff_ledger.adapters.store.token_index import TOKEN_INDEX
from handoff_ledger.adapters.store.urls import StoreURL, parse_store_url, session_options
from handoff_ledger.domain.errors import InvalidInput

__all__ = ["NoLedger", "StoreUnavailable", "is_read_only", "open_ledger"]

_SETUP_LOCK = 7_240_517_311
"""Advisory lock id held while one process creates the ledger's tables."""


_SQLITE_EVENTS = "stored_events"
"""The events table the library names on SQLite."""


def open_ledger(
    url: str | None = None, *, clock: Clock | None = None, create: bool = True
) -> Ledger:
    """Open the ledger at ``url`` (else ``HANDOFF_DB``, else ``./handoff.db``).

    ``create=False`` is how a read opens a store: where the URL holds no ledger it
    raises :class:`NoLedger` and writes nothing (no file, no table, no schema).
    A read-only store (``?mode=ro``, or a file this process cannot write) opens
    only for reading: ``create=True`` on it is refused.
    """
    store = parse_store_url(url)
    if create and store.read_only:
        raise InvalidInput(
            f"db: {store.redacted} is open read-only (?mode=ro or an unwritable file); "
            "this command writes"
        )
    if store.backend != "postgresql":
        if not create and not _sqlite_has_ledger(store):
            raise _no_ledger(store)
        ledger = _construct(store, store.env, clock)
    else:
        with _postgres_prepared(store, create) as env:
            ledger = _construct(store, env, clock)
            if env.get("CREATE_TABLE") != "n":  # under the setup lock
                _prepare_log_format(ledger)
        ledger.recorder.position_offset  # type: ignore[attr-defined]  # noqa: B018 - read once, here
    if not store.read_only:
        keep_guard(ledger)  # checked by its definition; a broken one is recorded, then restored
    ledger.protocol_watch = _protocol_watch(ledger, store)
    return ledger


def _protocol_watch(ledger: Ledger, store: StoreURL) -> ProtocolWatch:
    """What tells this ledger that another process applied a protocol version."""
    recorder: Any = ledger.recorder
    if store.backend == "postgresql":
        from handoff_ledger.adapters.store.notified_watch import NotifiedProtocolWatch  # lazily

        return NotifiedProtocolWatch(recorder)
    return DataVersionWatch(recorder.datastore)


def is_read_only(ledger: Ledger) -> bool:
    """Whether ``ledger`` was opened read-only (views then read, never write)."""
    return "mode=ro" in str(ledger.env.get("SQLITE_DBNAME") or "")


def _no_ledger(store: StoreURL) -> NoLedger:
    return NoLedger(
        f"db: {store.redacted} holds no ledger; a read never creates one "
        f"(create it with: handoff init --db {store.redacted})"
    )


def _sqlite_has_ledger(store: StoreURL) -> bool:
    """Whether the SQLite file exists and holds the events table (looked at read-only)."""
    assert store.path is not None
    if not store.path.is_file():
        return False
    uri = (
        store.env["SQLITE_DBNAME"]
        if store.read_only
        else f"file:{quote(str(store.path.resolve()))}?mode=ro"
    )
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_SQLITE_EVENTS,)
            ).fetchone()
    except sqlite3.Error as exc:
        unavailable = store_failure(exc, store.redacted)
        if unavailable is not None:
            raise unavailable from None
        raise NoLedger(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None
    return row is not None


def _construct(store: StoreURL, env: dict[str, str], clock: Clock | None) -> Ledger:
    try:
        return Ledger(env=env, clock=clock)
    except Exception as exc:  # the library wraps driver errors in its own types
        unavailable = store_failure(exc, store.redacted)
        if unavailable is not None:
            raise unavailable from None
        if isinstance(exc, OSError) or type(exc).__module__.startswith(
            ("eventsourcing", "sqlite3", "psycopg")
        ):
            # Not a ledger's database ("file is not a database"): the URL is wrong.
            raise NoLedger(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None
        raise


@contextmanager
def _postgres_prepared(store: StoreURL, create: bool) -> Iterator[dict[str, str]]:
    """Yield the settings to open the ledger with, its tables created exactly once.

    Many processes opening a fresh database at once would race on CREATE TYPE /
    TABLE / FUNCTION ("tuple concurrently updated"). The first one takes an
    advisory lock and creates everything while holding it; the others wait for it,
    then find the table and skip DDL altogether (which also makes every later CLI
    call cheaper).
    """
    import psycopg  # imported here: SQLite users never pay for loading the driver
    from psycopg import sql

    env = store.env
    schema = store.schema or "public"
    table = f"{schema}.{Ledger.name.lower()}_events"
    try:
        conn = psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
            options=session_options(env),  # the setup lock's wait is bounded too
            autocommit=True,
        )
    except psycopg.Error as exc:
        if "does not exist" in str(exc) or "authentication failed" in str(exc):
            # No such database, or a user it does not know: the URL is wrong.
            raise NoLedger(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None
        raise StoreUnavailable(f"store unavailable: {store.redacted}: {_first_line(exc)}") from None
    with conn:
        if _ready(conn, table, schema):
            yield {**env, "CREATE_TABLE": "n"}
            return
        if not create and not _exists(conn, table):
            raise _no_ledger(store)
        conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            if store.schema:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.schema))
                )
            yield dict(env)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


def _prepare_log_format(ledger: Ledger) -> None:
    """Make the store one of log format 2 (many writers), once: see ``log_format``."""
    recorder: Any = ledger.recorder
    schema, table = recorder.datastore.schema, recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        if read_offset(cursor, schema) is not None:
            return
        for statement in format_statements(schema, table):
            cursor.execute(statement)
        upgrade_guard_function(cursor, schema)


def _exists(conn: Any, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _ready(conn: Any, table: str, schema: str) -> bool:
    """True when the events table exists, carries the append-only guard, is of log
    format 2 (``log_format``) and has the tokens' index (``token_index``).

    A guard someone disabled still counts as there: it is not silently switched
    back on, so ``handoff audit verify`` can report it.
    """
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_trigger "
        "WHERE tgrelid = to_regclass(%s) AND tgname = %s), to_regclass(%s) IS NOT NULL, "
        "to_regclass(%s) IS NOT NULL",
        (
            table,
            table,
            GUARD_TRIGGER,
            f'"{schema}"."{FORMAT_TABLE}"',
            f'"{schema}"."{TOKEN_INDEX}"',
        ),
    ).fetchone()
    return bool(row and all(row))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

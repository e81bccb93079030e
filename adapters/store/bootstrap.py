"""The one place that turns a store URL into a working ledger.

CLI commands, the server, tests and benchmarks all call :func:`open_ledger`, so a
store is configured, prepared (schema created) and opened the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import Clock
from handoff_ledger.adapters.store.guard import GUARD_TRIGGER, keep_guard
from handoff_ledger.adapters.store.urls import StoreURL, parse_store_url
from handoff_ledger.domain.errors import InvalidInput

__all__ = ["StoreUnavailable", "open_ledger"]

_SETUP_LOCK = 7_240_517_311
"""Advisory lock id held while one process creates the ledger's tables."""


class StoreUnavailable(InvalidInput):
    """The store named by the URL cannot be reached or opened."""

    code = "store_unavailable"


def open_ledger(url: str | None = None, *, clock: Clock | None = None) -> Ledger:
    """Open the ledger at ``url`` (else ``HANDOFF_DB``, else ``./handoff.db``)."""
    store = parse_store_url(url)
    if store.backend != "postgresql":
        ledger = _construct(store, store.env, clock)
    else:
        with _postgres_prepared(store) as env:
            ledger = _construct(store, env, clock)
    keep_guard(ledger)  # checked by its definition; a broken one is recorded, then restored
    return ledger


def _construct(store: StoreURL, env: dict[str, str], clock: Clock | None) -> Ledger:
    try:
        return Ledger(env=env, clock=clock)
    except OSError as exc:
        raise StoreUnavailable(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None
    except Exception as exc:  # the library wraps driver errors in its own types
        if type(exc).__module__.startswith(("eventsourcing", "sqlite3", "psycopg")):
            raise StoreUnavailable(
                f"db: cannot open {store.redacted}: {_first_line(exc)}"
            ) from None
        raise


@contextmanager
def _postgres_prepared(store: StoreURL) -> Iterator[dict[str, str]]:
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
            autocommit=True,
        )
    except psycopg.Error as exc:
        raise StoreUnavailable(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None
    with conn:
        if _ready(conn, table):
            yield {**env, "CREATE_TABLE": "n"}
            return
        conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            if store.schema:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.schema))
                )
            yield dict(env)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


def _ready(conn: Any, table: str) -> bool:
    """True when the events table exists and carries the append-only guard.

    A guard someone disabled still counts as there: it is not silently switched
    back on, so ``handoff audit verify`` can report it.
    """
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_trigger "
        "WHERE tgrelid = to_regclass(%s) AND tgname = %s)",
        (table, table, GUARD_TRIGGER),
    ).fetchone()
    return bool(row and row[0] and row[1])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

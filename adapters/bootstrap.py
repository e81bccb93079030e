"""The one place that turns a store URL into a working ledger.

CLI commands, the server, tests and benchmarks all call :func:`open_ledger`, so a
store is configured, prepared (schema created) and opened the same way everywhere.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from handoff_ledger.adapters.clock import Clock
from handoff_ledger.adapters.ledger import Ledger
from handoff_ledger.adapters.store.urls import StoreURL, parse_store_url
from handoff_ledger.domain.errors import InvalidInput

__all__ = ["StoreUnavailable", "open_ledger"]


class StoreUnavailable(InvalidInput):
    """The store named by the URL cannot be reached or opened."""

    code = "store_unavailable"


def open_ledger(url: str | None = None, *, clock: Clock | None = None) -> Ledger:
    """Open the ledger at ``url`` (else ``HANDOFF_DB``, else ``./handoff.db``)."""
    store = parse_store_url(url)
    if store.backend == "postgresql":
        _prepare_postgres(store)
    try:
        return Ledger(env=store.env, clock=clock)
    except (psycopg.Error, OSError) as exc:
        raise StoreUnavailable(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None
    except Exception as exc:  # the library wraps driver errors in its own types
        if type(exc).__module__.startswith(("eventsourcing", "sqlite3", "psycopg")):
            raise StoreUnavailable(
                f"db: cannot open {store.redacted}: {_first_line(exc)}"
            ) from None
        raise


def _prepare_postgres(store: StoreURL) -> None:
    """Check the server answers, and create the URL's schema if it is missing."""
    env = store.env
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
            autocommit=True,
        ) as conn:
            if store.schema:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.schema))
                )
    except psycopg.errors.UniqueViolation:
        pass  # another process created the schema at the same moment
    except psycopg.Error as exc:
        raise StoreUnavailable(f"db: cannot open {store.redacted}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

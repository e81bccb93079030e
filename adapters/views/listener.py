"""A LISTEN connection to the log's NOTIFY channel (PostgreSQL), reconnecting when dropped."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from handoff_ledger.adapters.ledger.application import Ledger

__all__ = ["LogListener"]

log = logging.getLogger(__name__)


class LogListener:
    """A LISTEN connection of its own that reconnects after it is dropped (PostgreSQL:
    the library's events table NOTIFYs on every insert). Used by the views' runner,
    and by ``handoff next --wait`` to wake as soon as work arrives."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.channel: str = ledger.recorder.channel_name  # type: ignore[attr-defined]
        self.conn: Any = None

    def _connect(self) -> Any:
        import psycopg
        from psycopg import sql

        env = self.ledger.env
        conn = psycopg.connect(
            dbname=env.get("POSTGRES_DBNAME"),
            host=env.get("POSTGRES_HOST"),
            port=int(env.get("POSTGRES_PORT") or 5432),
            user=env.get("POSTGRES_USER"),
            password=env.get("POSTGRES_PASSWORD") or None,
            connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT") or 10),
            autocommit=True,
        )
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        return conn

    def wait(self, *, timeout: float, stop: threading.Event) -> None:
        """Return at the next NOTIFY, after ``timeout`` (the polling fallback), or on error."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect()
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                break
        except Exception as error:  # noqa: BLE001 - any failure: drop it, reconnect next time
            log.warning("views: LISTEN connection lost (%s); reconnecting", error)
            self.close()
            stop.wait(0.2)

    def close(self) -> None:
        """Close the LISTEN connection, if open."""
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close too
                self.conn.close()
            self.conn = None

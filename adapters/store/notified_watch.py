"""PostgreSQL's protocol watch: a LISTEN on the channel protocol saves NOTIFY."""

from __future__ import annotations

import threading
from typing import Any

from psycopg.sql import SQL, Identifier

from handoff_ledger.adapters.store.postgres import ManyWritersRecorder

__all__ = ["APPLICATION_NAME", "NotifiedProtocolWatch"]

APPLICATION_NAME = "handoff-ledger protocol watch"
"""How the watch's connection shows in ``pg_stat_activity`` (one per process)."""


class NotifiedProtocolWatch:
    """Re-read the protocol when its channel was notified (PostgreSQL).

    A connection of its own LISTENs on the channel that every save recording a
    protocol version NOTIFYs in its transaction (:attr:`ManyWritersRecorder.protocol_channel`);
    asking only polls that connection's socket (no round trip). Not strict: the server
    forwards a notification to listeners a moment after the commit, so a command can
    start before it arrives; the ledger therefore guards its saves with the head it
    decided under (``strict = False``, ``ledger/application.py``). A lost connection
    answers "changed" until a new one listens again.
    """

    strict = False

    def __init__(self, recorder: ManyWritersRecorder) -> None:
        self._pool: Any = recorder.datastore.pool  # its settings, not its connections
        self._channel = recorder.protocol_channel
        self._conn: Any = None
        self._lock = threading.Lock()

    def may_have_changed(self) -> bool:
        """True if the channel was notified since the last call, or nobody was listening."""
        import psycopg

        with self._lock:
            if self._conn is None or self._conn.closed:
                try:
                    conninfo, kwargs = self._pool.conninfo, self._pool.kwargs
                    conninfo = conninfo() if callable(conninfo) else conninfo
                    kwargs = kwargs() if callable(kwargs) else kwargs
                    self._conn = psycopg.connect(
                        conninfo,
                        **{**kwargs, "autocommit": True, "application_name": APPLICATION_NAME},
                    )
                    self._conn.execute(SQL("LISTEN {0}").format(Identifier(self._channel)))
                except psycopg.Error:
                    self._drop()
                return True  # listening only from now: what came before is read now
            try:
                return bool(list(self._conn.notifies(timeout=0)))
            except psycopg.Error:
                self._drop()
                return True

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        """Stop listening."""
        with self._lock:
            self._drop()

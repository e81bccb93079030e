"""SQLite's protocol watch: ``PRAGMA data_version`` says whether another connection wrote.

The pragma's value changes on a connection whenever any *other* connection (another
process, or another of this process's pooled connections) commits to the file, and
reading it touches no table. A connection whose value has not changed since the
ledger last read the protocol has seen no commit since, so the protocol kept is the
newest: strict, unlike a notification that arrives late. Each pooled connection
carries the value it last showed; one the watch has not seen yet answers "changed".
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["DataVersionWatch"]

_SEEN = "_handoff_data_version"


class DataVersionWatch:
    """Re-read the protocol only after another connection committed (SQLite)."""

    strict = True

    def __init__(self, datastore: Any) -> None:
        self._datastore = datastore
        self._lock = threading.Lock()

    def may_have_changed(self) -> bool:
        """True unless the connection at hand saw no other connection commit since last asked.

        Asked on a pooled connection, as a reader (the pool's writer lock is not
        taken); the ledger's saves use the same connections, and a save does not change
        its own connection's value. The caller re-reads after a True.
        """
        with self._lock, self._datastore.get_connection(commit=False) as conn:
            raw = conn._sqlite_conn  # the library's wrapper keeps the sqlite3 connection here
            value: int = raw.execute("PRAGMA data_version").fetchone()[0]
            seen: int | None = getattr(conn, _SEEN, None)
            setattr(conn, _SEEN, value)
            return seen != value

    def close(self) -> None:
        """Nothing of its own to close (the connections are the store's)."""

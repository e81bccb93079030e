"""When a reactor last made a pass over this store: ``hl_reactor_passes``.

Timers fire and follow-ups are created only while some reactor runs (``handoff
reactor``, or ``handoff serve --with-reactor``). ``handoff serve`` warns when none
has passed lately, so a team that starts only the server learns at once that its
promises would never be escalated.

One row, in the ledger's own database beside the views: the time of the last pass
of any reactor (the ledger's clock, so simulated time reads the same) and which
process made it (``host:pid``). A reactor writes it on its first pass and then at
most every :data:`RECORD_EVERY` (one small upsert, not one per pass), so a pass
is seen as recent for :data:`RECENT` after it: about eight passes missed.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.projections.base import Column

__all__ = ["PASSES", "RECENT", "RECORD_EVERY", "LastPass", "ReactorPasses"]

PASSES = "hl_reactor_passes"
RECORD_EVERY = 15.0
"""Seconds between two records of one reactor's passes (the first is recorded at once)."""
RECENT = timedelta(minutes=2)
"""A reactor whose last recorded pass is older than this is taken as not running."""
_DDL_LOCK = 7_310_452_918  # pg_advisory_xact_lock key for creating the table


@dataclass(frozen=True)
class LastPass:
    """The last recorded pass: when, and by which process."""

    at: datetime
    by: str


class ReactorPasses:
    """Reads and writes ``hl_reactor_passes`` (the writer creates it on first use)."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self.dialect = store.dialect
        self._ready = False
        self._recorded: float | None = None  # monotonic time of this process's last record
        self.me = f"{socket.gethostname()}:{os.getpid()}"

    def _t(self) -> str:
        return self.dialect.table(PASSES)

    def _ensure(self) -> None:
        if self._ready or PASSES in self.store.existing_tables():
            self._ready = True
            return
        integer = self.dialect.type_of(Column.INT)
        with self.store.transaction() as cursor:
            if self.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self._t()} "
                f"(id {integer} PRIMARY KEY, at_us {integer}, by_process TEXT)"
            )
        self._ready = True

    def record(self, now: datetime, *, force: bool = False) -> None:
        """Record a pass made at ``now``, unless this process recorded one lately."""
        clock = time.monotonic()
        if not force and self._recorded is not None and clock - self._recorded < RECORD_EVERY:
            return
        self._ensure()
        m = self.dialect.mark
        at_us = int(now.timestamp() * 1_000_000)
        with self.store.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self._t()} (id, at_us, by_process) VALUES (1, {m}, {m}) "
                "ON CONFLICT (id) DO UPDATE SET at_us = excluded.at_us, "
                "by_process = excluded.by_process",
                (at_us, self.me),
            )
        self._recorded = clock

    def last(self) -> LastPass | None:
        """The last recorded pass, or None when no reactor ever recorded one (reads only)."""
        if PASSES not in self.store.existing_tables():
            return None
        rows = self.store.query(f"SELECT at_us, by_process FROM {self._t()} WHERE id = 1")
        if not rows:
            return None
        at = datetime.fromtimestamp(int(rows[0]["at_us"]) / 1_000_000, tz=UTC)
        return LastPass(at=at, by=str(rows[0]["by_process"]))

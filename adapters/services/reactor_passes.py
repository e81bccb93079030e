"""How long the reactor's passes take, kept where ``/metrics`` can read it.

The reactor is another process (or several), so a server cannot time its passes;
each pass adds its duration to one row of ``hl_reactor_passes`` (``passes + 1``,
``total_us + d`` and the last pass's duration and time, in one upsert), which
every serving process reads at scrape time. The increments are done by the
database, so reactors running side by side add up rather than overwrite each other.
The table is created on the first pass that finds it missing; a store where it
exists gets no DDL.

A pass that found nothing to do (most of a running reactor's: one a second) is
added up in memory and written with the next pass that does work, or once
``WRITE_EVERY`` seconds have passed since the last write, or when the reactor
closes: an idle pass is then its probe alone (one statement, where the write was
another, as long again). The row lags a running reactor by at most that long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.projections.base import Column, us

__all__ = ["PASSES", "RECENT", "LastPass", "PassTotals", "ReactorPasses"]

PASSES = "hl_reactor_passes"
_KEY = "reactor"  # one row: every reactor's passes add up in it
_DDL_LOCK = 7_310_452_931


WRITE_EVERY = 10.0
"""Seconds: idle passes are written at least this often (``handoff serve`` allows two
minutes before it says no reactor runs; a scrape sees them this late at most)."""

RECENT = timedelta(minutes=2)
"""A reactor that passed within this long (by the ledger's clock) counts as running:
``handoff serve`` warns at start-up when none has (its timers would never fire)."""


@dataclass(frozen=True)
class LastPass:
    """When a reactor last ended a pass (the ledger's clock)."""

    at: datetime


@dataclass(frozen=True)
class _Passes:
    """Passes to add to the row: how many, their total (µs), the last one's duration
    and when it ended (µs since the epoch, on the ledger's clock)."""

    passes: int
    total_us: int
    last_us: int
    last_at_us: int | None

    def then(self, later: _Passes) -> _Passes:
        """These passes, then ``later``'s."""
        return _Passes(
            self.passes + later.passes, self.total_us + later.total_us,
            later.last_us, later.last_at_us,
        )  # fmt: skip


@dataclass(frozen=True)
class PassTotals:
    """Every pass so far: how many, their total and the last one's duration and end."""

    passes: int
    total_seconds: float
    last_seconds: float
    last_at_us: int


class ReactorPasses:
    """The ``hl_reactor_passes`` table of one ledger."""

    def __init__(self, ledger: Ledger, store: ViewStore) -> None:
        self.ledger = ledger
        self.store = store
        self.table = store.dialect.table(PASSES)
        self._ready = False
        self.write_every = WRITE_EVERY
        self._unwritten: _Passes | None = None
        """Idle passes added up since the last write."""
        self._written = time.monotonic()

    def record(self, seconds: float, *, idle: bool = False) -> None:
        """Add one pass of ``seconds`` (a monotonic clock's measure: a duration).

        ``idle``: a pass that found nothing to do, written with a later one unless
        ``write_every`` seconds have passed since the last write.
        """
        took = int(seconds * 1_000_000)
        done = _Passes(1, took, took, us(self.ledger.clock.now()))
        if self._unwritten is not None:
            done = self._unwritten.then(done)
        if idle and time.monotonic() - self._written < self.write_every:
            self._unwritten = done
            return
        self._unwritten = None  # taken: if the write fails, these passes go uncounted
        self._write(done)

    def flush(self) -> None:
        """Write the idle passes not written yet (a reactor that stops)."""
        unwritten, self._unwritten = self._unwritten, None
        if unwritten is not None:
            self._write(unwritten)

    def _write(self, done: _Passes) -> None:
        if not self._ready:
            self._create_table()
            self._ready = True
        self._written = time.monotonic()
        m = self.store.dialect.mark
        values = (done.passes, done.total_us, done.last_us, done.last_at_us)
        upsert = (
            f"INSERT INTO {self.table} AS p (name, passes, total_us, last_us, last_at_us) "
            f"VALUES ({{0}}, {{1}}, {{2}}, {{3}}, {{4}}) ON CONFLICT (name) DO UPDATE SET "
            "passes = p.passes + excluded.passes, total_us = p.total_us + excluded.total_us, "
            "last_us = excluded.last_us, last_at_us = excluded.last_at_us"
        )
        if self.store.dialect.backend == "postgresql":
            # One round trip: the statements go as one simple query, with their values
            # written in (whole numbers and a constant). A pass's figures are metrics, not
            # the ledger's record: the commit need not wait for the WAL to reach the disk
            # (a crash of the database server may lose the last few passes' counts;
            # nothing else is at stake).
            written = upsert.format(f"'{_KEY}'", *("NULL" if v is None else v for v in values))
            datastore: Any = self.store.tracking.datastore
            with datastore.get_connection() as conn:
                conn.execute(
                    f"BEGIN; SET LOCAL synchronous_commit TO OFF; {written}; COMMIT".encode(),
                    prepare=False,
                )
            return
        with self.store.transaction() as cursor:
            cursor.execute(upsert.format(m, m, m, m, m), (_KEY, *values))

    def totals(self) -> PassTotals | None:
        """The passes recorded so far, or None if no reactor ever passed."""
        if PASSES not in self.store.existing_tables():
            return None
        rows = self.store.query(
            f"SELECT passes, total_us, last_us, last_at_us FROM {self.table} WHERE name = ?",
            [_KEY],
        )
        if not rows:
            return None
        row = rows[0]
        return PassTotals(
            passes=int(row["passes"]),
            total_seconds=int(row["total_us"]) / 1e6,
            last_seconds=int(row["last_us"]) / 1e6,
            last_at_us=int(row["last_at_us"] or 0),
        )

    def last(self) -> LastPass | None:
        """When any reactor last ended a pass, or None if none ever did (reads only)."""
        totals = self.totals()
        if totals is None or not totals.last_at_us:
            return None
        return LastPass(at=datetime.fromtimestamp(totals.last_at_us / 1_000_000, tz=UTC))

    def _create_table(self) -> None:
        if PASSES in self.store.existing_tables():
            return  # no DDL once it exists
        integer = self.store.dialect.type_of(Column.INT)
        with self.store.transaction() as cursor:
            if self.store.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (name TEXT PRIMARY KEY, "
                f"passes {integer}, total_us {integer}, last_us {integer}, "
                f"last_at_us {integer})"
            )

"""The log's guard found broken: a durable record that every later audit reports.

The database's append-only triggers can be dropped, replaced or switched off by
whoever owns the database. The ledger checks their definitions whenever it opens a
store and whenever ``audit verify`` runs; when they are not what it installed, it
records what it found here (an event, in the same log) before putting them back, so
the incident is not undone by the repair: every later ``audit verify`` reports it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

__all__ = ["GUARD_RECORD_ID", "GuardRecord"]

GUARD_RECORD_ID = UUID("5b3f0a6e-9c1d-4f7a-8e2b-3d4c5a6b7c8d")
"""The one guard record of a ledger."""


class GuardRecord(Aggregate):
    """Every time the log's guard was found missing, altered or disabled."""

    class FoundBroken(Aggregate.Created):
        """The first time the guard was found broken (and then restored)."""

        table: str
        detail: str

    class FoundBrokenAgain(Aggregate.Event):
        """A later time the guard was found broken (and then restored)."""

        table: str
        detail: str

        def apply(self, aggregate: GuardRecord) -> None:
            aggregate.incidents += 1

    def __init__(self, table: str, detail: str) -> None:
        self.incidents = 1

    @classmethod
    def first(cls, *, table: str, detail: str, now: datetime) -> GuardRecord:
        """The record's first incident."""
        return cls._create(
            cls.FoundBroken, id=GUARD_RECORD_ID, timestamp=now, table=table, detail=detail
        )

    def found_broken(self, *, table: str, detail: str, now: datetime) -> None:
        """Record one more incident."""
        self.trigger_event(self.FoundBrokenAgain, timestamp=now, table=table, detail=detail)

"""The protocol in force, stored in the ledger as versions of one aggregate.

Storing the protocol as events in the same store as the handoffs means every
process on every host reads the same rules, and the audit can show which version
was in force when a handoff was created (each handoff records that version). The
aggregate's version is the protocol's version: the first file applied is version 1.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

__all__ = ["PROTOCOL_ID", "ProtocolRecord"]

PROTOCOL_ID = UUID("1d0a7c55-0f5e-4c4e-8f3a-6f7d0b9e2c01")
"""The one protocol record of a ledger."""


class ProtocolRecord(Aggregate):
    """Every protocol file ever applied, newest last."""

    class Created(Aggregate.Created):
        """The first protocol file was checked and put in force."""

        by: str
        source: str
        text: str
        sha256: str

    class Applied(Aggregate.Event):
        """A later protocol file was checked and put in force."""

        by: str
        source: str
        text: str
        sha256: str

        def apply(self, aggregate: ProtocolRecord) -> None:
            aggregate.text = self.text
            aggregate.source = self.source
            aggregate.sha256 = self.sha256

    def __init__(self, source: str, text: str, sha256: str) -> None:
        self.text = text
        self.source = source
        self.sha256 = sha256

    @classmethod
    def first(cls, *, text: str, source: str, by: str, now: datetime) -> ProtocolRecord:
        """Version 1: the first protocol this ledger ever had."""
        return cls._create(
            cls.Created,
            id=PROTOCOL_ID,
            timestamp=now,
            by=by,
            source=source,
            text=text,
            sha256=_digest(text),
        )

    def apply_text(self, *, text: str, source: str, by: str, now: datetime) -> None:
        """Put a checked protocol file in force as the next version."""
        self.trigger_event(
            self.Applied, timestamp=now, by=by, source=source, text=text, sha256=_digest(text)
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

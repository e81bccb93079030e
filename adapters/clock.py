"""The one clock: every timestamp, timer and reactor pass reads time from here.

Production uses :class:`SystemClock`; tests and ``handoff demo`` use
:class:`SimulatedClock` (or freezegun, which :class:`SystemClock` honours) so hours
of protocol time pass in seconds and no test sleeps for a timer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "SimulatedClock", "SystemClock"]


class Clock(Protocol):
    """Anything that can say what time it is (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        """The current time."""
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to: ``advance`` or ``set``."""

    def __init__(self, start: datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)

    @classmethod
    def from_iso(cls, text: str) -> SimulatedClock:
        """A simulated clock starting at an ISO 8601 time."""
        return cls(datetime.fromisoformat(text))

    def now(self) -> datetime:
        """The simulated current time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by ``delta`` and return the new time."""
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (forward or back)."""
        self._now = moment

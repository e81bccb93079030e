"""The one clock: every timestamp, timer and reactor pass reads time from here.

Production uses :class:`SystemClock`; tests and ``handoff demo`` use
:class:`SimulatedClock` (or freezegun, which :class:`SystemClock` honours) so hours
of protocol time pass in seconds and no test sleeps for a timer.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from handoff_ledger.domain.errors import InvalidInput

__all__ = ["CLOCK_ENV", "Clock", "FileClock", "SimulatedClock", "SystemClock", "clock_from_env"]

CLOCK_ENV = "HANDOFF_CLOCK"
"""``file:PATH`` makes every ``handoff`` command read the time from that file."""


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


class FileClock:
    """Simulated time shared by several processes: the time is an ISO 8601 file.

    Every ``now()`` reads the file, so a test (or a simulation) moves time for
    every reactor and command at once by rewriting it (write, then rename, so no
    reader ever sees half a time). Set ``HANDOFF_CLOCK=file:PATH`` to use it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        """The time the file holds."""
        text = self.path.read_text().strip()
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def set(self, moment: datetime) -> None:
        """Move every reader of the file to ``moment``."""
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(moment.isoformat())
        partial.replace(self.path)

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by ``delta`` and return the new time."""
        moment = self.now() + delta
        self.set(moment)
        return moment


def clock_from_env() -> Clock:
    """The clock ``HANDOFF_CLOCK`` names (``file:PATH``), else the system clock."""
    spec = os.environ.get(CLOCK_ENV, "").strip()
    if not spec:
        return SystemClock()
    if not spec.startswith("file:"):
        raise InvalidInput(f"{CLOCK_ENV}: {spec!r} is not file:PATH")
    path = Path(spec.removeprefix("file:"))
    clock = FileClock(path)
    try:
        clock.now()
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"{CLOCK_ENV}: cannot read an ISO 8601 time from {path}: {exc}"
        ) from None
    return clock

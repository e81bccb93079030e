"""The handoff lifecycle's states and the statuses a receiver broadcasts."""

from __future__ import annotations

from enum import StrEnum

from handoff_ledger.domain.errors import InvalidInput

__all__ = ["OPEN_STATES", "TERMINAL_STATES", "State", "Status"]


class State(StrEnum):
    """Where a handoff stands. ``reassigned`` is not a state: it returns to ``requested``."""

    REQUESTED = "requested"
    ACKED = "acked"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    FAILED = "failed"


OPEN_STATES = frozenset({State.REQUESTED, State.ACKED, State.IN_PROGRESS, State.BLOCKED})
TERMINAL_STATES = frozenset({State.COMPLETED, State.DECLINED, State.CANCELLED, State.FAILED})


class Status(StrEnum):
    """What a receiver reports; ``stuck`` and ``need_help`` block the handoff."""

    WORKING = "working"
    PROGRESS = "progress"
    STUCK = "stuck"
    NEED_HELP = "need_help"

    @property
    def state(self) -> State:
        """The state a report of this status puts the handoff in."""
        return State.BLOCKED if self in (Status.STUCK, Status.NEED_HELP) else State.IN_PROGRESS

    @classmethod
    def parse(cls, text: str) -> Status:
        """Read a status name, refusing anything else with the accepted names."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise InvalidInput(f"status: {text!r} is not one of {names}") from None

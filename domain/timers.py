"""The three promises a handoff's timers watch, and which of them are due.

A timer is identified by its reason and its due time, so re-arming a timer (a new
status report, a reassignment) makes a new timer and an escalation of the old one
can never be mistaken for an escalation of the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["EscalationReason", "Timer", "timer_key"]


class EscalationReason(StrEnum):
    """Why an ``Escalated`` event was recorded."""

    ACK_TIMEOUT = "ack_timeout"
    UPDATE_OVERDUE = "update_overdue"
    DEADLINE_MISSED = "deadline_missed"
    MANUAL = "manual"


@dataclass(frozen=True)
class Timer:
    """One armed promise: ``reason`` fires at ``due`` unless the receiver keeps it."""

    reason: EscalationReason
    due: datetime

    @property
    def key(self) -> str:
        """A stable identity for this arming of the timer."""
        return timer_key(self.reason.value, self.due)

    def is_due(self, now: datetime) -> bool:
        """True once the promise has been broken."""
        return self.due <= now


def timer_key(reason: str, due: datetime | None) -> str:
    """The identity of one arming of a timer (``manual`` escalations have no due)."""
    return f"{reason}@{due.isoformat() if due else '-'}"

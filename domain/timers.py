"""The three promises a handoff's timers watch, and which of them are due.

A timer is identified by its reason and its due time, so re-arming a timer (a new
status report, a reassignment) makes a new timer and an escalation of the old one
can never be mistaken for an escalation of the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["EscalationReason", "Timer", "armed_timers", "timer_key"]


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


def armed_timers(
    *,
    is_open: bool,
    ack_due: datetime | None,
    acked_at: datetime | None,
    update_due: datetime | None,
    deadline_due: datetime | None,
) -> list[Timer]:
    """Every timer a handoff with these fields has armed: ack (until acked), update,
    deadline; none once it is closed. ``Handoff.timers`` and ``Outline.timers``."""
    if not is_open:
        return []
    armed = []
    if ack_due is not None and acked_at is None:
        armed.append(Timer(EscalationReason.ACK_TIMEOUT, ack_due))
    if update_due is not None:
        armed.append(Timer(EscalationReason.UPDATE_OVERDUE, update_due))
    if deadline_due is not None:
        armed.append(Timer(EscalationReason.DEADLINE_MISSED, deadline_due))
    return armed

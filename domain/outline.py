"""A recorded handoff's outline: the few fields a what-if replay reads, folded cheaply.

``protocol simulate`` follows every recorded handoff beside its simulated one, but of
the recorded side it reads only where the handoff stands (open or not, its state),
who may act on it (sender, receiver, escalation targets), the update interval last
promised, the timers armed and each timer's next escalation step. Folding a full
``Handoff`` for that (its ``__init__``, the library's version checks, every
attribute each event sets) was a fifth of the run. An ``Outline`` folds the same
events into those fields only; on them it agrees with the full fold
(``tests/unit/test_outline.py`` checks it on generated histories).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.domain.escalation import Step, step_due
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import OPEN_STATES, State, Status
from handoff_ledger.domain.timers import Timer, armed_timers, timer_key

__all__ = ["Outline"]


class Outline:
    """What a replay reads of a recorded handoff, kept up to date by :meth:`fold`."""

    __slots__ = (
        "ack_due",
        "acked_at",
        "chain_id",
        "deadline_due",
        "escalation_targets",
        "id",
        "kind",
        "next_steps",
        "protocol_version",
        "receiver",
        "sender",
        "state",
        "update_due",
        "update_every",
    )

    def __init__(self, created: Handoff.Created) -> None:
        self.id: UUID = created.originator_id
        self.chain_id: UUID = created.chain_id
        self.sender: str = created.sender
        self.receiver: str = created.receiver
        self.kind: str | None = created.kind
        self.protocol_version: int | None = created.protocol_version
        self.state = State.REQUESTED
        self.acked_at: datetime | None = None
        self.ack_due: datetime | None = created.ack_due
        self.update_due: datetime | None = None
        self.update_every: float | None = None
        self.deadline_due: datetime | None = created.deadline_due
        self.escalation_targets: set[str] = set(created.escalate_to)
        self.next_steps: dict[str, Step | None] = {}

    @classmethod
    def of(cls, handoff: Handoff) -> Outline:
        """The outline of a handoff folded in full (one open when a replay's window opens)."""
        outline = cls.__new__(cls)
        outline.id = handoff.id
        outline.chain_id = handoff.chain_id
        outline.sender = handoff.sender
        outline.receiver = handoff.receiver
        outline.kind = handoff.kind
        outline.protocol_version = handoff.protocol_version
        outline.state = handoff.state
        outline.acked_at = handoff.acked_at
        outline.ack_due = handoff.ack_due
        outline.update_due = handoff.update_due
        outline.update_every = handoff.update_every
        outline.deadline_due = handoff.deadline_due
        outline.escalation_targets = set(handoff.escalation_targets)
        outline.next_steps = dict(handoff.next_steps)
        return outline

    def fold(self, event: Handoff.Event) -> None:
        """Apply one of the handoff's later events (as ``event.mutate`` would, on these
        fields only; the events were checked when recorded, so nothing is checked)."""
        _FOLDS[type(event)](self, event)

    # The same questions a ``Handoff`` answers, answered the same way.

    @property
    def is_open(self) -> bool:
        """True until the handoff is completed, failed, declined or cancelled."""
        return self.state in OPEN_STATES

    def timers(self) -> list[Timer]:
        """Every timer armed now (``Handoff.timers``)."""
        return armed_timers(
            is_open=self.state in OPEN_STATES,
            ack_due=self.ack_due,
            acked_at=self.acked_at,
            update_due=self.update_due,
            deadline_due=self.deadline_due,
        )

    def next_step(self, timer: Timer) -> Step | None:
        """The escalation step of ``timer`` due next (``Handoff.next_step``)."""
        return step_due(self.next_steps, timer)


# One fold per event class: what its ``apply`` does to the outline's fields.


def _acked(outline: Outline, event: Handoff.Acked) -> None:
    outline.state = State.ACKED
    outline.acked_at = event.timestamp
    outline.update_due = event.update_due
    outline.update_every = event.update_every
    outline.ack_due = None


def _status_reported(outline: Outline, event: Handoff.StatusReported) -> None:
    outline.state = _STATE_OF_STATUS[event.status]
    outline.update_due = event.update_due
    outline.update_every = event.update_every


_STATE_OF_STATUS = {status.value: status.state for status in Status}
"""``Status(text).state`` without the enum's lookup per report."""


def _escalated(outline: Outline, event: Handoff.Escalated) -> None:
    outline.escalation_targets.update(event.notified)
    if event.timer_due is not None:
        expected = timer_key(event.reason, event.timer_due)
        if event.next_level is None or event.next_due is None:
            outline.next_steps[expected] = None
        else:
            outline.next_steps[expected] = Step(
                event.next_level, event.next_repeat or 0, event.next_due
            )


def _closed(state: State) -> Callable[[Outline, Handoff.Event], None]:
    def close(outline: Outline, event: Handoff.Event) -> None:
        outline.state = state
        outline.ack_due = None  # Handoff.disarm_timers
        outline.update_due = None

    return close


def _taken_over(outline: Outline, event: Handoff.TakenOver) -> None:
    outline.update_due = event.update_due
    outline.update_every = event.update_every


def _replied(outline: Outline, event: Handoff.Replied) -> None:
    if outline.state is State.BLOCKED:
        outline.state = State.IN_PROGRESS
    if event.update_due is not None:
        outline.update_due = event.update_due


def _reassigned(outline: Outline, event: Handoff.Reassigned) -> None:
    outline.receiver = event.to_receiver
    outline.state = State.REQUESTED
    outline.acked_at = None
    outline.update_due = None
    outline.update_every = None
    outline.ack_due = event.ack_due
    outline.deadline_due = event.deadline_due


def _nothing(outline: Outline, event: Handoff.Event) -> None:
    return None


_FOLDS: dict[type[Handoff.Event], Callable[[Outline, Any], None]] = {
    Handoff.Acked: _acked,
    Handoff.StatusReported: _status_reported,
    Handoff.Escalated: _escalated,
    Handoff.Completed: _closed(State.COMPLETED),
    Handoff.Failed: _closed(State.FAILED),
    Handoff.Declined: _closed(State.DECLINED),
    Handoff.Cancelled: _closed(State.CANCELLED),
    Handoff.TakenOver: _taken_over,
    Handoff.Replied: _replied,
    Handoff.Reassigned: _reassigned,
    Handoff.NoteAdded: _nothing,
}

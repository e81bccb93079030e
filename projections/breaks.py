"""Where a chain broke, and why: a fold of its handoffs' histories into breaks.

A chain is broken where a promise was not kept or work was left lying:

- ``never_acked``: sent, and its ack was due, but the receiver never acked it;
- ``silent``: acked (or reported on), then no update by the time it promised one;
- ``deadline_missed``: still open after its deadline;
- ``escalation_unanswered``: escalated, and nobody (receiver, sender, the targets)
  has acted on it or said a word since;
- ``follow_up_missing``: completed (or declined, or failed) where the protocol routes
  a follow-up, and no follow-up handoff exists;
- ``not_rerouted``: declined or failed, with no route and nothing handed on from it.

Only the handoff's participants (its sender, every receiver it had, its escalation
targets) and admins answer a break: anyone may add a note or hang a child on a
handoff (informal collaboration), but an uninvolved agent's note does not answer an
escalation, and its child does not re-route (or follow up) the work. That is rule
version :data:`RULES_VERSION` 2; version 1 counted anyone's note and child.

A closure younger than ``FOLLOW_UP_GRACE`` is not judged yet: the reactor (or the
sender) gets that long to hand the work on.

Each break names the agent responsible (the receiver that owes an ack, the
targets that owe an answer, the reactor that owes a follow-up, the sender that
owes a new route), the rule it broke and the time it broke. The rules are pure:
the caller supplies the chain's handoffs as they stood at ``now``, their events
up to then, and which follow-up route (if any) applied to each outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from handoff_ledger.domain.durations import format_duration
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.protocol import FollowUp
from handoff_ledger.domain.states import State

__all__ = [
    "FOLLOW_UP_GRACE",
    "RULES_VERSION",
    "Break",
    "BreakKind",
    "RouteOf",
    "answers",
    "diagnose_chain",
]

RULES_VERSION = 2
"""The break rules' version (2: only participants and admins answer a break). Breaks
are folded on demand from the log, never stored, so a new version needs no rebuild."""

FOLLOW_UP_GRACE = timedelta(minutes=1)
"""How long the reactor has to create a follow-up before its absence is a break: a
completion seconds old is simply waiting for the reactor's next pass."""

_OUTCOMES = {State.COMPLETED: "on_complete", State.DECLINED: "on_decline", State.FAILED: "on_fail"}
"""The closed states that may owe a follow-up, and the protocol key that routes one."""

RouteOf = Callable[[Handoff], FollowUp | None]
"""The follow-up the protocol routes for a closed handoff's outcome, if any."""

_RESPONSES = (
    Handoff.Acked,
    Handoff.StatusReported,
    Handoff.Completed,
    Handoff.Declined,
    Handoff.Cancelled,
    Handoff.Reassigned,
    Handoff.NoteAdded,
    Handoff.Failed,
    Handoff.Replied,
    Handoff.TakenOver,
)


class BreakKind(StrEnum):
    """The ways a chain breaks (the ``kind`` of a break)."""

    NEVER_ACKED = "never_acked"
    SILENT = "silent"
    DEADLINE_MISSED = "deadline_missed"
    ESCALATION_UNANSWERED = "escalation_unanswered"
    FOLLOW_UP_MISSING = "follow_up_missing"
    NOT_REROUTED = "not_rerouted"


@dataclass(frozen=True)
class Break:
    """One place a chain broke: which handoff, how, whose move it was, since when."""

    handoff_id: UUID
    kind: BreakKind
    agent: str
    rule: str
    at: datetime
    message: str


def diagnose_chain(
    handoffs: Sequence[Handoff],
    histories: Mapping[UUID, Sequence[Handoff.Event]],
    now: datetime,
    route_of: RouteOf,
    system_agents: frozenset[str] = frozenset({"reactor"}),
    admins: frozenset[str] = frozenset(),
) -> list[Break]:
    """Every break in one chain at ``now``, earliest first.

    ``handoffs`` are the chain's handoffs as they stood at ``now`` and
    ``histories`` their events up to then. Events by ``system_agents`` (the
    reactor's escalations, reassignments and notes) are not answers to an
    escalation: only a participant of the handoff (or one of ``admins``) acting on
    it is.
    """
    children: dict[UUID, list[Handoff]] = {}
    for handoff in handoffs:
        if handoff.parent_id is not None:
            children.setdefault(handoff.parent_id, []).append(handoff)
    found: list[Break] = []
    for handoff in handoffs:
        history = histories.get(handoff.id, ())
        answering = _participants(handoff, history) | admins
        if handoff.is_open:
            found.extend(_open_breaks(handoff, history, now, system_agents, answering))
        else:
            mine = [c for c in children.get(handoff.id, []) if c.sender in answering]
            found.extend(_closed_breaks(handoff, history, mine, route_of, now))
    return sorted(found, key=lambda b: (b.at, str(b.handoff_id), b.kind.value))


def _open_breaks(
    handoff: Handoff,
    history: Sequence[Handoff.Event],
    now: datetime,
    system_agents: frozenset[str],
    answering: frozenset[str],
) -> list[Break]:
    found = []
    receiver = handoff.receiver
    if handoff.acked_at is None and handoff.ack_due is not None and handoff.ack_due <= now:
        found.append(
            Break(
                handoff.id,
                BreakKind.NEVER_ACKED,
                receiver,
                f"ack within {_span(handoff.ack_within)}",
                handoff.ack_due,
                f"handed to {receiver} and never acked: the ack was due {_at(handoff.ack_due)}"
                f" ({_ago(now, handoff.ack_due)} ago)",
            )
        )
    if handoff.update_due is not None and handoff.update_due <= now:
        heard = handoff.last_report_at or handoff.acked_at
        found.append(
            Break(
                handoff.id,
                BreakKind.SILENT,
                receiver,
                f"an update every {_span(handoff.update_every)}",
                handoff.update_due,
                f"{receiver} went silent: last heard {_at(heard)}, the next update was due "
                f"{_at(handoff.update_due)} ({_ago(now, handoff.update_due)} ago)",
            )
        )
    if handoff.deadline_due is not None and handoff.deadline_due <= now:
        found.append(
            Break(
                handoff.id,
                BreakKind.DEADLINE_MISSED,
                receiver,
                f"deadline {_at(handoff.deadline_due)}",
                handoff.deadline_due,
                f"still {handoff.state.value} with {receiver} "
                f"{_ago(now, handoff.deadline_due)} after its deadline",
            )
        )
    unanswered = _unanswered_escalation(history, system_agents, answering)
    if unanswered is not None:
        targets = ", ".join(unanswered.notified) or handoff.sender
        found.append(
            Break(
                handoff.id,
                BreakKind.ESCALATION_UNANSWERED,
                targets,
                f"{unanswered.reason} escalation, level {unanswered.level}",
                unanswered.timestamp,
                f"escalated to {targets} at {_at(unanswered.timestamp)} ({unanswered.reason}); "
                f"nobody has acted on it since ({_ago(now, unanswered.timestamp)})",
            )
        )
    return found


def _closed_breaks(
    handoff: Handoff,
    history: Sequence[Handoff.Event],
    children: list[Handoff],
    route_of: RouteOf,
    now: datetime,
) -> list[Break]:
    if handoff.state not in _OUTCOMES:
        return []  # a cancellation is a decision, not a break
    closed = handoff.closed_at or handoff.modified_on
    if now - closed < FOLLOW_UP_GRACE:
        return []
    outcome = _OUTCOMES[handoff.state]
    route = route_of(handoff)
    if route is not None:
        if any(child.kind == route.kind for child in children):
            return []
        to = f" to {route.to}" if route.to else ""
        note = _reactor_note(history, route.kind)
        return [
            Break(
                handoff.id,
                BreakKind.FOLLOW_UP_MISSING,
                "reactor",
                f"{outcome}: hand off {route.kind}{to}",
                closed,
                f"{handoff.state.value} at {_at(closed)}, but its follow-up {route.kind}{to} "
                "was never created" + (f" ({note})" if note else " (is a reactor running?)"),
            )
        ]
    if handoff.state in (State.DECLINED, State.FAILED) and not children:
        verb = handoff.state.value
        return [
            Break(
                handoff.id,
                BreakKind.NOT_REROUTED,
                handoff.sender,
                f"a {verb} handoff is re-routed (an {outcome} route, or send --parent)",
                closed,
                f"{verb} by {handoff.receiver} at {_at(closed)} "
                f"({handoff.outcome_reason}) and not re-routed by {handoff.sender}",
            )
        ]
    return []


def _unanswered_escalation(
    history: Sequence[Handoff.Event], system_agents: frozenset[str], answering: frozenset[str]
) -> Handoff.Escalated | None:
    """The last escalation, if no participant (nor admin) but the ledger has acted since."""
    for event in reversed(history):
        if isinstance(event, Handoff.Escalated):
            return event
        if answers(event, system_agents, answering):
            return None
    return None


def answers(event: Handoff.Event, system_agents: frozenset[str], answering: frozenset[str]) -> bool:
    """Whether ``event`` answers the escalations before it: an act of one of
    ``answering`` (the handoff's participants and the admins), not of the ledger itself.

    The digest's "waiting on you" uses the same rule (``build_digest``).
    """
    return isinstance(event, _RESPONSES) and event.by not in system_agents and event.by in answering


def _participants(handoff: Handoff, history: Sequence[Handoff.Event]) -> frozenset[str]:
    """Who answers for a handoff: its sender, every receiver it had, its escalation targets."""
    found = {handoff.sender, handoff.receiver, *handoff.escalation_targets}
    for event in history:
        if isinstance(event, Handoff.Reassigned):
            found.add(event.from_receiver)
    return frozenset(found)


def _reactor_note(history: Sequence[Handoff.Event], kind: str) -> str | None:
    """What the reactor said when it could not create the follow-up, if it did."""
    prefix = f"follow-up {kind} not created"
    for event in reversed(history):
        if isinstance(event, Handoff.NoteAdded) and event.message.startswith(prefix):
            return event.message
    return None


def _at(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ago(now: datetime, then: datetime) -> str:
    return format_duration(now - then)


def _span(seconds: float | None) -> str:
    return format_duration(timedelta(seconds=seconds)) if seconds else "the promised time"

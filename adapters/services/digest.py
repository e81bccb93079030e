"""The "while you were away" digest: what passed, what was escalated, what waits.

One JSON-able document per call, the same shape every interface will return. It
reads the whole handoff log, folding each handoff's events recorded up to the
window's end in memory (so each entry knows the handoff's route and involvement as
they stood), and reports the events whose recorded time falls in the window. It
never stops at the first event past the end: log order is not time order. Its cost grows with the
size of the log; a view of its own would make it a range scan later.

"What waits on" an agent is its queue and the open handoffs escalated to it that
nobody has answered since (the rule of ``gaps``' ``escalation_unanswered``: an act
of a participant or an admin after the escalation answers it).

The queue and the overdue timers are read from the views as they stand now when the window ends now
(the caller catches them up first), else from the views replayed up to the
window's end, so every section describes the same moment.

"Promises" (how each receiver kept its ETAs and update promises settled in the
window, :mod:`.promises`) is folded in the same pass, by the agents view's own
promise code over the events read, so it never waits on a view rebuild.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from handoff_ledger.adapters.ledger.application import SYSTEM_AGENTS, Ledger
from handoff_ledger.adapters.services.diagnosis import ledger_admins
from handoff_ledger.adapters.services.documents import iso, view_document
from handoff_ledger.adapters.services.promises import accuracy
from handoff_ledger.adapters.services.vocabulary import DigestDocument, EscalatedEntry, PassedEntry
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.projections.base import us
from handoff_ledger.projections.breaks import answers
from handoff_ledger.projections.fold import MemoryTable
from handoff_ledger.projections.promises import AGENT_HANDOFFS, AGENT_PROMISES, track_promises
from handoff_ledger.projections.queues import ordered_queue
from handoff_ledger.projections.timers import due_rows

__all__ = ["PASSED_TYPES", "build_digest", "check_window"]

PASSED_TYPES: dict[type[Handoff.Event], str] = {
    Handoff.Created: "created",
    Handoff.Completed: "completed",
    Handoff.Declined: "declined",
    Handoff.Cancelled: "cancelled",
    Handoff.Reassigned: "reassigned",
    Handoff.Failed: "failed",
    Handoff.Replied: "replied",
}
"""The events that move work, and their name in ``counts``."""

_KEPT_BY: dict[str, tuple[type[Handoff.Event], ...]] = {
    EscalationReason.ACK_TIMEOUT.value: (Handoff.Acked,),
    EscalationReason.UPDATE_OVERDUE.value: (
        Handoff.StatusReported,
        Handoff.Completed,
        Handoff.Declined,
        Handoff.Failed,
        Handoff.TakenOver,
    ),
    EscalationReason.DEADLINE_MISSED.value: (Handoff.Completed,),
    EscalationReason.MANUAL.value: (Handoff.Completed,),
}
"""Which later event keeps the promise an escalation was about (any other: the completion)."""


@dataclass
class _Tracked:
    """One handoff as folded so far, and every agent it has involved."""

    handoff: Handoff
    involved: set[str] = field(default_factory=set)
    escalations: list[Handoff.Escalated] = field(default_factory=list)
    unanswered: set[str] = field(default_factory=set)
    """Who escalations notified since the last answer (an act of a participant or admin)."""


def build_digest(
    ledger: Ledger,
    views: Views,
    since: datetime,
    until: datetime | None = None,
    agent: str | None = None,
) -> DigestDocument:
    """The digest of ``[since, until]`` (both ends included; ``until`` defaults to now).

    With ``agent``, ``passed`` and ``escalated`` keep only the handoffs it sent,
    received (now or before a reassign), is an escalation target of, or was notified
    about; ``waiting`` is its queue and the open handoffs whose escalations notified
    it and that nobody has answered since. Without, ``waiting`` is every overdue timer
    and the open count per receiver.
    """
    now = ledger.clock.now()
    end = check_window(since, until, now)
    tracked: dict[UUID, _Tracked] = {}
    passed: list[tuple[UUID, dict[str, Any]]] = []
    escalated: list[tuple[UUID, dict[str, Any]]] = []
    promises: dict[UUID, list[dict[str, Any]]] = {}
    admins = ledger_admins(ledger) if agent is not None else frozenset()
    kept = {spec.name: MemoryTable(spec) for spec in (AGENT_HANDOFFS, AGENT_PROMISES)}
    # The whole log: a clock stepped back puts events of the window after later ones.
    for entry in ledger.read_log_as_of(end):
        event = entry.event
        hid = event.originator_id
        before = tracked[hid].handoff if hid in tracked else None
        # mutate() changes the aggregate in place: remember who held it before.
        held_by = before.receiver if before else None
        handoff = event.mutate(before)
        assert isinstance(handoff, Handoff)
        me = tracked.setdefault(hid, _Tracked(handoff))
        me.handoff = handoff
        me.involved.update({handoff.sender, handoff.receiver, *handoff.escalate_to})
        if isinstance(event, Handoff.Escalated):
            me.involved.update(event.notified)
            me.escalations.append(event)
            me.unanswered.update(event.notified)
        elif me.unanswered and answers(event, SYSTEM_AGENTS, frozenset(me.involved | admins)):
            me.unanswered.clear()
        track_promises(event, str(hid), us(event.timestamp) or 0, kept)
        for promise in promises.get(hid, []):
            keepers = _KEPT_BY.get(promise["reason"], (Handoff.Completed,))
            if promise["kept_at"] is None and isinstance(event, keepers):
                promise["kept_at"] = iso(event.timestamp)
        if event.timestamp < since:
            continue
        name = PASSED_TYPES.get(type(event))
        if name is not None:
            passed.append((hid, _passed_entry(name, event, handoff, held_by)))
        elif isinstance(event, Handoff.Escalated):
            item = _escalated_entry(event, handoff)
            escalated.append((hid, item))
            promises.setdefault(hid, []).append(item)

    def concerns(hid: UUID) -> bool:
        return agent is None or agent in tracked[hid].involved

    passed_entries = [
        cast(PassedEntry, _finish(e, tracked[hid])) for hid, e in passed if concerns(hid)
    ]
    escalated_entries = [
        cast(EscalatedEntry, _finish(e, tracked[hid])) for hid, e in escalated if concerns(hid)
    ]
    counts = Counter(e["type"].lower() for e in passed_entries)
    as_of = min(end, now)
    promise_rows = [
        row
        for row in kept[AGENT_PROMISES.name].rows.values()
        if agent is None or row["agent"] == agent
    ]
    return {
        "window": {"since": iso(since), "until": iso(end)},
        "for": agent,
        "passed": passed_entries,
        "escalated": escalated_entries,
        "waiting": _waiting(views, tracked, agent, as_of, live=end >= now),
        "promises": accuracy(promise_rows, us(as_of) or 0, since_us=us(since)),
        "counts": {
            **{name: counts[name] for name in PASSED_TYPES.values()},
            "escalated": len(escalated_entries),
            "follow_ups": sum(
                1 for e in passed_entries if e["type"] == "Created" and e["parent_id"]
            ),
        },
    }


def check_window(since: datetime, until: datetime | None, now: datetime) -> datetime:
    """The window's end (``until``, else ``now``); bad input if ``since`` comes after it."""
    end = until or now
    if since > end:
        told = "until" if until else "now"
        raise InvalidInput(
            f"since: {iso(since)} is after the end of the window, {told} ({iso(end)})"
        )
    return end


def _passed_entry(
    name: str, event: Handoff.Event, handoff: Handoff, held_by: str | None
) -> dict[str, Any]:
    reason = getattr(event, "reason", None)
    return {
        "type": type(event).__name__,
        "at": iso(event.timestamp),
        "id": str(handoff.id),
        "chain_id": str(handoff.chain_id),
        "parent_id": str(handoff.parent_id) if handoff.parent_id else None,
        "kind": handoff.kind,
        "priority": handoff.priority,
        "sender": handoff.sender,
        "receiver": handoff.receiver,
        "from_receiver": held_by if name == "reassigned" else None,
        "by": event.by,
        "reason": reason if isinstance(reason, str) else None,
    }


def _escalated_entry(event: Handoff.Escalated, handoff: Handoff) -> dict[str, Any]:
    return {
        "at": iso(event.timestamp),
        "id": str(handoff.id),
        "chain_id": str(handoff.chain_id),
        "kind": handoff.kind,
        "sender": handoff.sender,
        "receiver": handoff.receiver,
        "reason": event.reason,
        "level": event.level,
        "notified": list(event.notified),
        "timer_due": iso(event.timer_due),
        "by": event.by,
        "kept_at": None,
    }


def _finish(entry: dict[str, Any], tracked: _Tracked) -> dict[str, Any]:
    """Add what became of the handoff by the end of the window."""
    return {**entry, "state": tracked.handoff.state.value}


def _waiting(
    views: Views, tracked: dict[UUID, _Tracked], agent: str | None, as_of: datetime, live: bool
) -> dict[str, Any]:
    memory = None if live else views.replay(as_of, ["queues", "timers"])
    if agent is None:
        if memory is None:
            overdue = views.read.overdue(us(as_of) or 0)
        else:
            overdue = due_rows(memory.rows("timers").values(), us(as_of) or 0)
        receivers = Counter(t.handoff.receiver for t in tracked.values() if t.handoff.is_open)
        return {
            "as_of": iso(as_of),
            "overdue": [view_document(row) for row in overdue],
            "open_by_receiver": dict(sorted(receivers.items())),
        }
    if memory is None:
        queue = views.read.inbox(agent)
    else:
        queue = ordered_queue(memory.rows("queue").values(), agent)
    return {
        "as_of": iso(as_of),
        "queue": [view_document(row) for row in queue],
        "escalated_to": [
            _escalated_to(t.handoff, mine)
            for t in tracked.values()
            if t.handoff.is_open
            and agent in t.unanswered
            and (mine := [e for e in t.escalations if agent in e.notified])
        ],
    }


def _escalated_to(handoff: Handoff, mine: list[Handoff.Escalated]) -> dict[str, Any]:
    last = mine[-1]
    return {
        "id": str(handoff.id),
        "chain_id": str(handoff.chain_id),
        "kind": handoff.kind,
        "priority": handoff.priority,
        "sender": handoff.sender,
        "receiver": handoff.receiver,
        "state": handoff.state.value,
        "escalations": len(mine),
        "last_reason": last.reason,
        "last_level": last.level,
        "last_escalated_at": iso(last.timestamp),
    }

"""The read-side answers every interface gives, as JSON documents.

The CLI (with ``--json``), the HTTP API and the MCP server return the same documents
because they all come from here: one function per question, taking a ledger and
its views (caught up by the caller) and returning a plain dict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import AckOutcome, Ledger
from handoff_ledger.adapters.services.diagnosis import break_document, chain_breaks
from handoff_ledger.adapters.services.documents import (
    handoff_document,
    history_entry,
    iso,
    overdue_timers,
    timer_fields,
    view_document,
)
from handoff_ledger.adapters.services.vocabulary import (
    AckDocument,
    ChainDocument,
    InboxDocument,
    LogHorizon,
    NotificationsDocument,
    OverdueDocument,
    ReplayDocument,
    ShowDocument,
    ViewStatusEntry,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.service import ViewStatus
from handoff_ledger.domain.errors import UnknownHandoff
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import from_us, us
from handoff_ledger.projections.queues import ordered_queue
from handoff_ledger.projections.timers import due_rows

__all__ = [
    "ack_document",
    "chain_document",
    "inbox_document",
    "log_horizon",
    "notifications_document",
    "overdue_document",
    "replay_document",
    "show_document",
    "view_status_entry",
]


def show_document(ledger: Ledger, handoff_id: UUID, as_of: datetime | None) -> ShowDocument:
    """``show``: one handoff, its timers, what is overdue, its whole history."""
    handoff = ledger.get(handoff_id, as_of=as_of)
    history = ledger.history(handoff_id, as_of=as_of)
    now = as_of or ledger.clock.now()
    return {
        **handoff_document(handoff),
        "as_of": iso(as_of),
        "overdue": overdue_timers(handoff, now),
        "history": [history_entry(e) for e in history],
    }


def ack_document(outcome: AckOutcome, views: Views) -> AckDocument:
    """``ack``: the handoff, its queue position (from the caught-up views), eta, next update."""
    handoff: Handoff = outcome.handoff
    return {
        **handoff_document(handoff),
        "queue_position": views.read.queue_position(str(handoff.id)),
        "eta": iso(handoff.eta),
        "next_update_due": iso(handoff.update_due),
        "already_acked": not outcome.recorded,
    }


def inbox_document(
    views: Views, agent: str, limit: int | None, as_of: datetime | None
) -> InboxDocument:
    """``inbox``: the agent's queue, head first, each with its position and timers."""
    if as_of is None:
        queue = views.read.inbox(agent, limit=limit)
        total = views.read.queue_length(agent) if limit and len(queue) == limit else len(queue)
        timers = views.read.timers_of([row["handoff_id"] for row in queue])
    else:
        memory = views.replay(as_of, ["queues", "timers"])
        whole = ordered_queue(memory.rows("queue").values(), agent)
        total, queue = len(whole), whole[:limit]
        timers = list(memory.rows("timers").values())
    entries = [_with_timers(view_document(row), row["handoff_id"], timers) for row in queue]
    return {"agent": agent, "as_of": iso(as_of), "total": total, "handoffs": entries}


def overdue_document(views: Views, now: datetime, as_of: datetime | None) -> OverdueDocument:
    """``overdue``: every armed timer past due at ``as_of`` (else ``now``)."""
    moment = as_of or now
    if as_of is None:
        rows = views.read.overdue(us(moment) or 0)
    else:
        memory = views.replay(as_of, ["timers"])
        rows = due_rows(memory.rows("timers").values(), us(moment) or 0)
    return {"as_of": iso(moment), "overdue": [view_document(row) for row in rows]}


def chain_document(views: Views, some_id: UUID, as_of: datetime | None) -> ChainDocument:
    """``trace``: the chain of a handoff (or the chain with that id), oldest first.

    ``breaks`` says where and why the chain broke (see ``projections.breaks``), as
    it stood at ``as_of`` when given.
    """
    wanted = str(some_id)
    if as_of is None:
        me = views.read.handoff(wanted)
        chain_id = me["chain_id"] if me else (wanted if views.read.chain(wanted) else None)
        rows = views.read.chain(chain_id) if chain_id else []
    else:
        # A chain only grows, so its members at ``as_of`` are among today's; their
        # rows then are folded from their own events (chains rows are per handoff).
        me = views.read.handoff(wanted)
        members = views.read.chain(me["chain_id"] if me else wanted)
        memory = views.replay_handoffs(as_of, [r["handoff_id"] for r in members], ["chains"])
        folded = memory.rows("handoffs")
        rows = sorted(folded.values(), key=lambda r: (r["created_us"], r["handoff_id"]))
        existed = (wanted,) in folded if me else bool(rows)
        chain_id = rows[0]["chain_id"] if rows and existed else None
    if chain_id is None:
        when = f" at {iso(as_of)}" if as_of else ""
        raise UnknownHandoff(f"id: no handoff or chain has id {some_id}{when}")
    now = as_of or views.ledger.clock.now()
    breaks = chain_breaks(views.ledger, (r["handoff_id"] for r in rows), now, as_of)
    return {
        "chain_id": chain_id,
        "as_of": iso(as_of),
        "handoffs": [view_document(row) for row in rows],
        "broken": bool(breaks),
        "breaks": [break_document(b) for b in breaks],
    }


def replay_document(views: Views, until: datetime, names: list[str] | None) -> ReplayDocument:
    """``replay``: every view's rows (or the named views') as they stood at ``until``.

    ``overdue`` lists the timers past due at ``until`` when the timers view is replayed.
    """
    for name in names or []:
        views.projection(name)  # an unknown view is bad input, not an empty answer
    memory = views.replay(until, names)
    document: ReplayDocument = {
        "until": iso(until),
        "position": memory.position,
        "events": memory.applied,
        "views": {
            projection.name: {
                spec.name: [view_document(row) for _, row in sorted(memory.rows(spec.name).items())]
                for spec in projection.tables
            }
            for projection in memory.projections
        },
        "overdue": None,
    }
    if "timers" in memory.tables:
        due = due_rows(memory.rows("timers").values(), us(until) or 0)
        document["overdue"] = [view_document(row) for row in due]
    return document


def notifications_document(
    views: Views, agent: str, since: int, limit: int
) -> NotificationsDocument:
    """``notifications``: the agent's feed after cursor ``since``, and the next cursor."""
    rows = views.read.notifications(agent, after=since, limit=limit)
    entries = [{"cursor": row["position"], **view_document(row)} for row in rows]
    cursor = entries[-1]["cursor"] if entries else since
    return {"agent": agent, "notifications": entries, "next": cursor}


def _with_timers(
    entry: dict[str, Any], handoff_id: str, timers: list[dict[str, Any]]
) -> dict[str, Any]:
    armed = {
        t["reason"]: iso(from_us(t["due_us"])) for t in timers if t["handoff_id"] == handoff_id
    }
    return {**entry, "timers": timer_fields(armed)}


def log_horizon(ledger: Ledger) -> LogHorizon | None:
    """How far the horizon holds readers back (PostgreSQL; None on SQLite, whose one
    writer at a time commits in position order)."""
    horizon = getattr(ledger.recorder, "horizon", None)
    if horizon is None:
        return None
    found: LogHorizon = horizon()
    return found


def view_status_entry(status: ViewStatus) -> ViewStatusEntry:
    """``projections status``: one view's position, the log's head, lag and versions."""
    return {
        "name": status.name,
        "position": status.position,
        "head": status.head,
        "lag_events": status.lag_events,
        "lag_seconds": round(status.lag_seconds, 3),
        "version": status.code_version,
        "stored_version": status.stored_version,
        "stale": status.stale,
    }

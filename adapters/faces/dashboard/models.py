"""What each page shows, as plain dicts: built from the documents every interface shares.

``as_of`` (a time, or None for now) goes straight to the as-of documents of
:mod:`handoff_ledger.adapters.services.queries`, which fold the log up to that time in
memory, so a page at a past time shows what the CLI's ``--as-of`` would.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.services.diagnosis import gaps_document
from handoff_ledger.adapters.services.documents import (
    TIMER_FIELDS,
    history_entry,
    iso,
    log_entry,
    parse_iso,
)
from handoff_ledger.adapters.services.promises import (
    agents_board,
    kept_summary,
    summary_text,
    with_promises,
)
from handoff_ledger.adapters.services.queries import (
    chain_document,
    inbox_document,
    overdue_document,
)
from handoff_ledger.adapters.services.vocabulary import (
    BreakDocument,
    ChainDocument,
    Document,
    HistoryEntry,
    LogEntry,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import UnknownHandoff
from handoff_ledger.domain.states import OPEN_STATES, State
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.projections.base import us

__all__ = ["LOG_TAIL", "agent_model", "board", "chain_model", "log_tail", "overview_model"]

LOG_TAIL = 50
"""How many log entries the overview shows (new ones push the oldest out)."""
QUEUE_SHOWN = 200


def span(svc: Service) -> tuple[str | None, str]:
    """The slider's range on a time scale: the log's first event, and now."""
    first = next(svc.ledger.read_log(limit=1), None)
    return (iso(first.event.timestamp) if first else None), str(iso(svc.ledger.clock.now()))


def log_tail(svc: Service, as_of: datetime | None) -> list[LogEntry]:
    """The last ``LOG_TAIL`` log entries up to ``as_of``, newest first."""
    ledger = svc.ledger
    if as_of is not None:
        kept = deque((log_entry(e) for e in ledger.read_log(until=as_of)), maxlen=LOG_TAIL)
        return list(reversed(kept))
    head = _head(svc)
    window = LOG_TAIL * 4  # positions also count token and protocol events: look further back
    while True:
        after = max(0, head - window)
        entries = [log_entry(e) for e in ledger.read_log(after=after)]
        if len(entries) >= LOG_TAIL or after == 0:
            break
        window *= 8
    return list(reversed(entries[-LOG_TAIL:]))


def board(views: Views, as_of: datetime | None, now: datetime) -> list[Document]:
    """The agents board (``handoff agents list``), as it stood at ``as_of``, each agent
    with its promise accuracy and its summary (``promises_kept``)."""
    if as_of is None:
        rows = agents_board(views, us(now) or 0)
    else:
        memory = views.replay(as_of, ["agents"])
        open_rows = list(memory.rows("agent_open").values())
        found = []
        for row in sorted(memory.rows("agents").values(), key=lambda r: r["agent"]):
            held = [o for o in open_rows if o["receiver"] == row["agent"]]
            oldest = min(held, key=lambda o: (o["created_us"], o["handoff_id"]), default=None)
            found.append(
                {
                    **row,
                    "oldest_open_id": oldest["handoff_id"] if oldest else None,
                    "oldest_open_us": oldest["created_us"] if oldest else None,
                }
            )
        promises = memory.rows("agent_promises").values()
        rows = with_promises(found, promises, us(as_of) or 0)
    for row in rows:
        kept = kept_summary(row["promises"]).get(row["agent"], {})
        row["promises_kept"] = summary_text(kept)
    return rows


def overview_model(svc: Service, as_of: datetime | None) -> Document:
    """The overview: the agents board, the overdue list, the broken chains, the log's tail.

    ``since`` (where the page's live stream starts) is the log's head *before* anything
    is read: an event recorded while the page is built comes again by the stream (the
    script skips a row it already shows), so the page never misses one.
    """
    since = _head(svc)
    views = svc.fresh_views()
    now = svc.ledger.clock.now()
    overdue = overdue_document(views, now, as_of)["overdue"]
    late = {row["receiver"] for row in overdue}
    agents = [{**row, "overdue": row["agent"] in late} for row in board(views, as_of, now)]
    entries = log_tail(svc, as_of)
    first, last = span(svc)
    # `gaps` diagnoses the chains as they stand: a past view does not list them.
    broken = gaps_document(views, now)["chains"] if as_of is None else None
    return {
        "as_of": iso(as_of),
        "moment": as_of or now,
        "agents": agents,
        "overdue": overdue,
        "broken": broken,
        "log": entries,
        "since": since,
        "range": {"first": first, "last": last},
    }


def agent_model(svc: Service, name: str, as_of: datetime | None) -> Document:
    """An agent's page: its board row, its queue head first with positions and timers."""
    since = _head(svc)
    views = svc.fresh_views()
    now = svc.ledger.clock.now()
    moment = as_of or now
    inbox = inbox_document(views, name, QUEUE_SHOWN, as_of)
    for entry in inbox["handoffs"]:
        # The trigger never changes after Created, so the live chains view has it for any time.
        summary = views.read.handoff(entry["id"]) or {}
        entry["trigger"] = summary.get("trigger")
        entry["late"] = [
            reason
            for reason, due in entry["timers"].items()
            if due and (parse_iso(due) or moment) <= moment
        ]
    row = next((r for r in board(views, as_of, now) if r["agent"] == name), None)
    first, last = span(svc)
    return {
        "as_of": iso(as_of),
        "moment": moment,
        "since": since,
        "name": name,
        "agent": row,
        "inbox": inbox,
        "range": {"first": first, "last": last},
    }


def chain_model(svc: Service, some_id: UUID, as_of: datetime | None) -> Document:
    """A chain's page: its handoffs as a tree, each with its steps, and where it broke.

    The steps of the slider are the times of the chain's events and of its breaks (all
    of them, whatever ``as_of``), so moving it one step back undoes one event, or goes
    back to before a promise was broken.
    """
    since = _head(svc)
    views = svc.fresh_views()
    now = svc.ledger.clock.now()
    live = chain_document(views, some_id, None)
    histories = {
        h["id"]: [history_entry(e) for e in svc.ledger.history(UUID(h["id"]))]
        for h in live["handoffs"]
    }
    happened: dict[datetime, list[str]] = {}
    for events in histories.values():
        for entry in events:
            happened.setdefault(_at(entry), []).append(f"{entry['type']} by {entry['by']}")
    for found in live.get("breaks", []):
        # A chain also breaks by time passing (an ack that never came): a step too.
        when = parse_iso(found.get("at"))
        if when is not None and when <= now:
            happened.setdefault(when, []).append(f"{found.get('kind')} ({found.get('agent')})")
    moments = sorted(happened)
    steps = [{"at": iso(m), "what": ", ".join(happened[m])} for m in moments]
    document: ChainDocument | None = live
    if as_of is not None:
        try:
            document = chain_document(views, UUID(live["chain_id"]), as_of)
        except UnknownHandoff:  # the chain had not started yet at as_of
            document = None
    moment = as_of or now
    rows = document["handoffs"] if document else []
    breaks = list(document.get("breaks", [])) if document else []
    broken: dict[Any, list[BreakDocument]] = {}
    for found in breaks:
        broken.setdefault(found.get("handoff_id"), []).append(found)
    start, end = _span(moments, moment, any(row["state"] in OPEN_STATES for row in rows))
    nodes = {
        row["id"]: _node(row, histories[row["id"]], moment, broken, start, end)
        for row in rows
        if row["id"] in histories
    }
    roots: list[Document] = []
    for node in nodes.values():
        parent = nodes.get(node["row"]["parent_id"])
        (parent["children"] if parent else roots).append(node)
    return {
        "as_of": iso(as_of),
        "moment": moment,
        "since": since,
        "chain_id": live["chain_id"],
        "asked": str(some_id),
        "exists": document is not None,
        "roots": roots,
        "breaks": breaks,
        # Promises past due where no break says so already (a break names its handoff).
        "late": [n for n in nodes.values() if n["late"] and not n["broken"]],
        "steps": steps,
        "step": _step_at(moments, as_of),
        "start": iso(start),
        "end": iso(end),
        "now_x": _x(moment, start, end),
    }


def _span(moments: list[datetime], moment: datetime, open_left: bool) -> tuple[datetime, datetime]:
    """The time the tracks cover: the chain's first event to its last one shown, or to
    ``moment`` while something is still open (how long it has been waiting shows)."""
    shown = [m for m in moments if m <= moment]
    if not shown:
        return moment, moment
    return shown[0], max(moment, shown[-1]) if open_left else shown[-1]


def _x(when: datetime | None, start: datetime, end: datetime) -> float | None:
    """Where on a track (in %) a time falls; None outside it. 1 % to 99 %: a mark at
    either end stays whole inside the track."""
    if when is None or when < start or when > end:
        return None
    width = (end - start).total_seconds() or 1.0
    return round(1 + (when - start).total_seconds() / width * 98, 2)


def _head(svc: Service) -> int:
    """Where the page's live stream starts: the log's head before the page was read."""
    return svc.ledger.head()


def _node(
    row: Document,
    history: list[HistoryEntry],
    moment: datetime,
    broken: dict[Any, list[BreakDocument]],
    start: datetime,
    end: datetime,
) -> Document:
    """One handoff of the chain: its row, its steps up to ``moment``, what is overdue."""
    events = [e for e in history if _at(e) <= moment]

    def where(text: str | None) -> float | None:
        return _x(parse_iso(text), start, end)

    promises = {
        field: row[field] if _watched(row["state"], reason) else None
        for reason, field in TIMER_FIELDS.items()
    }
    late = [k for k, due in promises.items() if due and (parse_iso(due) or moment) <= moment]
    return {
        "row": row,
        "events": [{**e, "x": where(e["at"])} for e in events],
        "promises": {k: {"due": d, "x": where(d)} for k, d in promises.items() if d},
        "late": late,
        "open": row["state"] in OPEN_STATES,
        "broken": row["id"] in broken,
        "breaks": [{**b, "x": where(b.get("at"))} for b in broken.get(row["id"], [])],
        "children": [],
    }


def _watched(state: str, reason: EscalationReason) -> bool:
    """Whether a handoff in ``state`` still has its ``reason`` timer to keep."""
    if reason is EscalationReason.ACK_TIMEOUT:
        return state == State.REQUESTED
    return state in OPEN_STATES


def _at(entry: HistoryEntry) -> datetime:
    """When a history entry happened."""
    moment = parse_iso(str(entry["at"]))
    if moment is None:
        raise ValueError("a history entry without its time")
    return moment


def _step_at(moments: list[datetime], as_of: datetime | None) -> int:
    """The slider's position for ``as_of``: the last event at or before it (the end: now)."""
    if as_of is None or not moments:
        return max(0, len(moments) - 1)
    before = [i for i, m in enumerate(moments) if m <= as_of]
    return before[-1] if before else 0

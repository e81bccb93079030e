"""Promises and whether they were kept: the agents view's per-promise rows.

A receiver makes two kinds of promise (docs/concepts.md, "Promise accuracy"):

- an **ETA** (``eta``): ``ack --eta``, or a later ``status --eta``/take-over with a
  new time. Kept when the handoff is completed or failed (a final answer) at or
  before it; a decline breaks it;
- a **next update** (``update``): ``ack --next-update`` and every re-arming of the
  update timer. Kept when the receiver reports (status, complete, fail, decline) at
  or before it.

One promise of each kind is in force at a time. Each promise is judged once: by the
event that keeps it, breaks it, or puts a new promise of its kind in its place (a
new ETA, a status report or reply re-arming the update timer). Judged at or before
its due time it is ``kept``; after, ``late`` by the difference. A promise still open
is judged by the reader, against its clock: the view stores facts, never "now".

The promises of a handoff that is reassigned or cancelled are removed, and it makes
no more: the work changed hands or was withdrawn, which is not the receiver's word
broken or kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import Column, Row, Table, TableSpec, us

__all__ = ["AGENT_HANDOFFS", "AGENT_PROMISES", "ETA", "SILENT", "UPDATE", "track_promises"]

ETA = "eta"
UPDATE = "update"

AGENT_HANDOFFS = TableSpec(
    name="agent_handoffs",
    columns={
        "handoff_id": Column.TEXT,
        "receiver": Column.TEXT,
        "kind": Column.TEXT,
        "acked_us": Column.INT,
        "completed_us": Column.INT,
        "excluded": Column.INT,
        "made": Column.INT,
        "open_eta": Column.INT,
        "open_update": Column.INT,
    },
    key=("handoff_id",),
    partition="handoff_id",
    indexes=(("receiver", "kind", "completed_us"),),
)
"""One row per handoff, kept after it closes: its receiver and kind (which later
events do not carry), the receiver's explicit ack and the completion (the history
``ack`` suggests an ETA from), whether it was reassigned or cancelled, how many
promises it made, and the ``seq`` of the promise of each kind in force."""

AGENT_PROMISES = TableSpec(
    name="agent_promises",
    columns={
        "handoff_id": Column.TEXT,
        "seq": Column.INT,
        "agent": Column.TEXT,
        "kind": Column.TEXT,
        "promise": Column.TEXT,
        "made_us": Column.INT,
        "due_us": Column.INT,
        "ended_us": Column.INT,
        "ended_by": Column.TEXT,
        "outcome": Column.TEXT,
        "late_us": Column.INT,
    },
    key=("handoff_id", "seq"),
    partition="handoff_id",
    indexes=(("agent",),),
)
"""One row per promise: who made it, on what kind, when it was due, and once judged
when and by which event, ``kept``/``late``/``broken`` and how late (µs; 0 when kept,
none when broken). Open promises have no ``ended_us``."""

_OPEN = {ETA: "open_eta", UPDATE: "open_update"}
_REPORTS = (Handoff.StatusReported, Handoff.Completed, Handoff.Failed, Handoff.Declined)
"""The receiver's events that keep its update promise."""
SILENT = (Handoff.Escalated, Handoff.NoteAdded)
"""Events that neither make, keep nor replace a promise (most of a busy log's)."""


def track_promises(event: Any, handoff_id: str, at: int, tables: Mapping[str, Table]) -> None:
    """Apply one event (recorded at ``at`` µs) to the promise tables."""
    handoffs, promises = tables[AGENT_HANDOFFS.name], tables[AGENT_PROMISES.name]
    if isinstance(event, Handoff.Created):
        handoffs.put(
            {
                "handoff_id": handoff_id,
                "receiver": event.receiver,
                "kind": event.kind,
                "acked_us": None,
                "completed_us": None,
                "excluded": 0,
                "made": 0,
                "open_eta": None,
                "open_update": None,
            }
        )
        return
    if isinstance(event, SILENT):
        return
    found = handoffs.get((handoff_id,))
    if found is None:
        return  # created before this view existed: counted once the view is rebuilt
    row = dict(found)
    if isinstance(event, Handoff.Reassigned | Handoff.Cancelled):
        for promise in promises.find(handoff_id):
            promises.delete(AGENT_PROMISES.key_of(promise))
        row.update(excluded=1, open_eta=None, open_update=None)
        if isinstance(event, Handoff.Reassigned):
            row.update(receiver=event.to_receiver, acked_us=None)
        handoffs.put(row)
        return
    if isinstance(event, Handoff.Acked) and not event.implicit:
        row["acked_us"] = at
    elif isinstance(event, Handoff.Completed):
        row["completed_us"] = at
    if not row["excluded"]:
        _judge(event, row, at, promises)
    if row != found:
        handoffs.put(row)


def _judge(event: Any, row: Row, at: int, promises: Table) -> None:
    """End the promises ``event`` keeps, breaks or replaces; start the ones it makes."""
    name = type(event).__name__
    if isinstance(event, _REPORTS):
        _end(row, UPDATE, at, name, promises)
    if isinstance(event, Handoff.Completed | Handoff.Failed):
        _end(row, ETA, at, name, promises)
    elif isinstance(event, Handoff.Declined):
        _end(row, ETA, at, name, promises, broken=True)
    if isinstance(event, Handoff.Acked | Handoff.StatusReported | Handoff.TakenOver):
        _promise(row, ETA, us(event.eta), at, name, promises)
    if isinstance(event, Handoff.Acked | Handoff.StatusReported):
        _promise(row, UPDATE, us(event.update_due), at, name, promises)
    elif isinstance(event, Handoff.TakenOver | Handoff.Replied):
        # A take-over (only allowed once the update is overdue) or a reply that
        # re-arms the update timer replaces the promise in force: it ends here.
        if isinstance(event, Handoff.TakenOver) or event.update_due is not None:
            _end(row, UPDATE, at, name, promises)
        _promise(row, UPDATE, us(event.update_due), at, name, promises)


def _promise(
    row: Row, promise: str, due: int | None, at: int, by_event: str, promises: Table
) -> None:
    """Make a promise due at ``due``, replacing the one in force unless it is the same."""
    if due is None:
        return
    current = _current(row, promise, promises)
    if current is not None:
        if current["due_us"] == due:
            return  # the same promise carried on (a take-over keeps the ETA)
        _end(row, promise, at, by_event, promises)
    seq = int(row["made"])
    promises.put(
        {
            "handoff_id": row["handoff_id"],
            "seq": seq,
            "agent": row["receiver"],
            "kind": row["kind"],
            "promise": promise,
            "made_us": at,
            "due_us": due,
            "ended_us": None,
            "ended_by": None,
            "outcome": None,
            "late_us": None,
        }
    )
    row["made"] = seq + 1
    row[_OPEN[promise]] = seq


def _current(row: Row, promise: str, promises: Table) -> Row | None:
    seq = row[_OPEN[promise]]
    return None if seq is None else promises.get((row["handoff_id"], seq))


def _end(
    row: Row, promise: str, at: int, by_event: str, promises: Table, broken: bool = False
) -> None:
    """Judge the promise of this kind in force (if any) at ``at``."""
    current = _current(row, promise, promises)
    if current is None:
        return
    late = at - int(current["due_us"])
    if broken:
        outcome, late_us = "broken", None
    else:
        outcome, late_us = ("kept", 0) if late <= 0 else ("late", late)
    promises.put(
        {**current, "ended_us": at, "ended_by": by_event, "outcome": outcome, "late_us": late_us}
    )
    row[_OPEN[promise]] = None

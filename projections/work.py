"""Who holds taken work: each acked, open handoff, its receiver's worker, its promise.

``handoff next`` answers from this view: first the calling worker's own unfinished
handoffs (a restarted worker resumes them, and never runs a finished one again),
then the head of the queue, then another worker's handoff whose update promise is
overdue (taken over, recorded as ``TakenOver``). A row appears when a handoff is
acked and leaves when it closes or is reassigned (back to ``requested``).

A new view: on a store written before it, it is created empty and caught up from
the start of the log like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.watch import ChainWatch
from handoff_ledger.projections.base import Column, Projection, Table, TableSpec, text_id, us

__all__ = ["HELD", "WorkProjection"]

HELD = TableSpec(
    name="held",
    columns={
        "handoff_id": Column.TEXT,
        "receiver": Column.TEXT,
        "worker": Column.TEXT,
        "acked_us": Column.INT,
        "state": Column.TEXT,
        "update_due_us": Column.INT,
    },
    key=("handoff_id",),
    partition="handoff_id",
    indexes=(("receiver", "worker"), ("receiver", "update_due_us")),
)

_CLOSING = (Handoff.Completed, Handoff.Declined, Handoff.Cancelled, Handoff.Failed)


class WorkProjection(Projection):
    """Taken (acked, open) handoffs by receiver and worker, with their update promise."""

    name = "work"
    version = 1
    tables = (HELD,)
    ignores = (Handoff.Created, Handoff.Escalated, Handoff.NoteAdded, ChainWatch.Started)

    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        held = tables["held"]
        hid = text_id(event.originator_id)
        if isinstance(event, Handoff.Acked):
            held.put(
                {
                    "handoff_id": hid,
                    "receiver": event.by,
                    "worker": getattr(event, "worker", None),
                    "acked_us": us(event.timestamp),
                    "state": "acked",
                    "update_due_us": us(event.update_due),
                }
            )
            return
        if isinstance(event, (*_CLOSING, Handoff.Reassigned)):
            held.delete((hid,))
            return
        row = held.get((hid,))
        if row is None:
            return
        if isinstance(event, Handoff.StatusReported):
            held.put(
                {
                    **row,
                    "state": Status(event.status).state.value,
                    "update_due_us": us(event.update_due),
                }
            )
        elif isinstance(event, Handoff.TakenOver):
            held.put({**row, "worker": event.worker, "update_due_us": us(event.update_due)})
        elif isinstance(event, Handoff.Replied):
            state = "in_progress" if row["state"] == "blocked" else row["state"]
            due = us(event.update_due) if event.update_due is not None else row["update_due_us"]
            held.put({**row, "state": state, "update_due_us": due})

"""Per-receiver queues: which open handoffs an agent holds, and in what order.

The order is PRODUCT.md's: priority (critical first), then creation time, then id.
Position 1 is the head. The view keeps one row per open handoff with exactly the
columns of that order (``neg_rank``, ``created_us``, ``handoff_id``), so an agent's
queue is an index range and a position is a count over it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.watch import ChainWatch
from handoff_ledger.projections.base import Column, Projection, Table, TableSpec, text_id, us

__all__ = [
    "QUEUE",
    "QueuesProjection",
    "ordered_queue",
    "queue_for",
    "queue_key",
    "queue_position",
    "row_order",
]

QUEUE = TableSpec(
    name="queue",
    columns={
        "handoff_id": Column.TEXT,
        "receiver": Column.TEXT,
        "neg_rank": Column.INT,
        "created_us": Column.INT,
        "sender": Column.TEXT,
        "chain_id": Column.TEXT,
        "kind": Column.TEXT,
        "priority": Column.TEXT,
        "state": Column.TEXT,
    },
    key=("handoff_id",),
    partition="handoff_id",
    indexes=(("receiver", "neg_rank", "created_us", "handoff_id"),),
)


class QueuesProjection(Projection):
    """Open handoffs per receiver; a row leaves the queue when its handoff closes."""

    name = "queues"
    version = 2  # 2: failed handoffs leave the queue, replies unblock
    tables = (QUEUE,)
    ignores = (Handoff.Escalated, Handoff.NoteAdded, Handoff.TakenOver, ChainWatch.Started)

    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        queue = tables["queue"]
        hid = text_id(event.originator_id)
        if isinstance(event, Handoff.Created):
            queue.put(
                {
                    "handoff_id": hid,
                    "receiver": event.receiver,
                    "neg_rank": -Priority(event.priority).rank,
                    "created_us": us(event.timestamp),
                    "sender": event.sender,
                    "chain_id": text_id(event.chain_id),
                    "kind": event.kind,
                    "priority": event.priority,
                    "state": "requested",
                }
            )
            return
        if isinstance(
            event, Handoff.Completed | Handoff.Declined | Handoff.Cancelled | Handoff.Failed
        ):
            queue.delete((hid,))
            return
        row = queue.get((hid,))
        if row is None:
            return
        if isinstance(event, Handoff.Acked):
            queue.put({**row, "state": "acked"})
        elif isinstance(event, Handoff.StatusReported):
            queue.put({**row, "state": Status(event.status).state.value})
        elif isinstance(event, Handoff.Reassigned):
            queue.put({**row, "receiver": event.to_receiver, "state": "requested"})
        elif isinstance(event, Handoff.Replied) and row["state"] == "blocked":
            queue.put({**row, "state": "in_progress"})


def row_order(row: Mapping[str, Any]) -> tuple[int, int, str]:
    """Sort key of a queue row: the same order as :func:`queue_key`, in row columns."""
    return (int(row["neg_rank"]), int(row["created_us"]), str(row["handoff_id"]))


def ordered_queue(rows: Iterable[Mapping[str, Any]], agent: str) -> list[dict[str, Any]]:
    """An agent's queue rows, head first, each with its ``queue_position``."""
    mine = sorted((r for r in rows if r["receiver"] == agent), key=row_order)
    return [{**row, "queue_position": n} for n, row in enumerate(mine, start=1)]


def queue_key(handoff: Handoff) -> tuple[int, datetime, str]:
    """Sort key of an aggregate: higher priority first, then older first, then by id."""
    return (-handoff.priority_level.rank, handoff.created_on, str(handoff.id))


def queue_for(agent: str, handoffs: Iterable[Handoff]) -> list[Handoff]:
    """The agent's open handoffs (aggregates), head of the queue first."""
    return sorted((h for h in handoffs if h.is_open and h.receiver == agent), key=queue_key)


def queue_position(handoff: Handoff, handoffs: Iterable[Handoff]) -> int | None:
    """1-based position of ``handoff`` among aggregates; None once it is closed."""
    if not handoff.is_open:
        return None
    ids: list[UUID] = [h.id for h in queue_for(handoff.receiver, handoffs)]
    try:
        return ids.index(handoff.id) + 1
    except ValueError:
        return None

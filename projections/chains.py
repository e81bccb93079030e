"""Chains: every handoff's summary row, grouped by chain, parent → children.

``handoff trace`` reads a chain's rows (one index lookup on ``chain_id``) and draws
the tree from ``parent_id``; each row carries the handoff's state and timings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.watch import ChainWatch
from handoff_ledger.projections.base import (
    Column,
    Projection,
    Table,
    TableSpec,
    text_id,
    to_json,
    us,
)

__all__ = ["HANDOFFS", "ChainsProjection"]

HANDOFFS = TableSpec(
    name="handoffs",
    columns={
        "handoff_id": Column.TEXT,
        "chain_id": Column.TEXT,
        "parent_id": Column.TEXT,
        "sender": Column.TEXT,
        "receiver": Column.TEXT,
        "kind": Column.TEXT,
        "trigger": Column.TEXT,
        "priority": Column.TEXT,
        "state": Column.TEXT,
        "status": Column.TEXT,
        "status_message": Column.TEXT,
        "created_us": Column.INT,
        "acked_us": Column.INT,
        "closed_us": Column.INT,
        "ack_due_us": Column.INT,
        "update_due_us": Column.INT,
        "deadline_us": Column.INT,
        "eta_us": Column.INT,
        "escalations": Column.INT,
        "last_escalation_us": Column.INT,
        "reassignments": Column.INT,
        "reason": Column.TEXT,
        "result": Column.TEXT,
        "last_event": Column.TEXT,
        "last_event_us": Column.INT,
        "last_position": Column.INT,
    },
    key=("handoff_id",),
    partition="handoff_id",
    indexes=(("chain_id",),),
)

CLOSED = {
    Handoff.Completed: "completed",
    Handoff.Declined: "declined",
    Handoff.Cancelled: "cancelled",
    Handoff.Failed: "failed",
}


class ChainsProjection(Projection):
    """One row per handoff, kept current; rows are never deleted (chains are history)."""

    name = "chains"
    version = 2  # 2: failed handoffs, replies
    tables = (HANDOFFS,)
    ignores = (ChainWatch.Started,)

    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        handoffs = tables["handoffs"]
        hid = text_id(event.originator_id)
        stamp = {
            "last_event": type(event).__name__,
            "last_event_us": us(event.timestamp),
            "last_position": position,
        }
        if isinstance(event, Handoff.Created):
            handoffs.put(
                {
                    "handoff_id": hid,
                    "chain_id": text_id(event.chain_id),
                    "parent_id": str(event.parent_id) if event.parent_id else None,
                    "sender": event.sender,
                    "receiver": event.receiver,
                    "kind": event.kind,
                    "trigger": event.trigger,
                    "priority": event.priority,
                    "state": "requested",
                    "status": None,
                    "status_message": None,
                    "created_us": us(event.timestamp),
                    "acked_us": None,
                    "closed_us": None,
                    "ack_due_us": us(event.ack_due),
                    "update_due_us": None,
                    "deadline_us": us(event.deadline_due),
                    "eta_us": None,
                    "escalations": 0,
                    "last_escalation_us": None,
                    "reassignments": 0,
                    "reason": None,
                    "result": None,
                    **stamp,
                }
            )
            return
        row = handoffs.get((hid,))
        if row is None:
            return
        changes: dict[str, Any] = stamp
        if isinstance(event, Handoff.Acked):
            changes |= {
                "state": "acked",
                "acked_us": us(event.timestamp),
                "eta_us": us(event.eta),
                "update_due_us": us(event.update_due),
            }
        elif isinstance(event, Handoff.StatusReported):
            changes |= {
                "state": Status(event.status).state.value,
                "status": event.status,
                "status_message": event.message,
                "update_due_us": us(event.update_due),
            }
            if event.eta is not None:
                changes["eta_us"] = us(event.eta)
        elif isinstance(event, Handoff.Escalated):
            changes |= {
                "escalations": int(row["escalations"] or 0) + 1,
                "last_escalation_us": us(event.timestamp),
            }
        elif isinstance(event, Handoff.Reassigned):
            changes |= {
                "receiver": event.to_receiver,
                "state": "requested",
                "acked_us": None,
                "eta_us": None,
                "status": None,
                "status_message": None,
                "update_due_us": None,
                "ack_due_us": us(event.ack_due),
                "deadline_us": us(event.deadline_due),
                "reassignments": int(row["reassignments"] or 0) + 1,
                "reason": event.reason,
            }
        elif isinstance(event, Handoff.TakenOver):
            changes |= {"update_due_us": us(event.update_due), "eta_us": us(event.eta)}
        elif isinstance(event, Handoff.Replied):
            if row["state"] == "blocked":
                changes["state"] = "in_progress"
            if event.update_due is not None:
                changes["update_due_us"] = us(event.update_due)
        elif type(event) in CLOSED:
            changes |= {
                "state": CLOSED[type(event)],
                "closed_us": us(event.timestamp),
                "update_due_us": None,
            }
            if isinstance(event, Handoff.Completed | Handoff.Failed):
                changes["result"] = None if event.result is None else to_json(event.result)
            if not isinstance(event, Handoff.Completed):
                changes["reason"] = event.reason
        handoffs.put({**row, **changes})

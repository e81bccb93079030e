"""Armed timers: every promise being watched (ack, update, deadline) with its due time.

One row per armed timer, indexed by due time, so "what is due before T" is a range
scan whose cost grows with the number of due timers, not with open handoffs. A row
also remembers the highest escalation level recorded for that arming, and the next
escalation step and its due time as the last ``Escalated`` event planned it
(``next_due_us`` is NULL once the policy is exhausted), so the reactor's "which steps
are due" is a range scan too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.domain.watch import ChainWatch
from handoff_ledger.projections.base import Column, Projection, Table, TableSpec, text_id, us

__all__ = ["TIMERS", "TIMER_OWNERS", "TimersProjection", "due_rows"]

TIMERS = TableSpec(
    name="timers",
    columns={
        "handoff_id": Column.TEXT,
        "reason": Column.TEXT,
        "due_us": Column.INT,
        "receiver": Column.TEXT,
        "sender": Column.TEXT,
        "chain_id": Column.TEXT,
        "kind": Column.TEXT,
        "escalated_level": Column.INT,
        "next_level": Column.INT,
        "next_repeat": Column.INT,
        "next_due_us": Column.INT,
    },
    key=("handoff_id", "reason"),
    partition="handoff_id",
    indexes=(("due_us",), ("next_due_us",)),
)

TIMER_OWNERS = TableSpec(
    name="timer_owners",
    columns={
        "handoff_id": Column.TEXT,
        "receiver": Column.TEXT,
        "sender": Column.TEXT,
        "chain_id": Column.TEXT,
        "kind": Column.TEXT,
    },
    key=("handoff_id",),
    partition="handoff_id",
)
"""Who an open handoff's timers belong to (so any later event can arm one)."""

ACK = EscalationReason.ACK_TIMEOUT.value
UPDATE = EscalationReason.UPDATE_OVERDUE.value
DEADLINE = EscalationReason.DEADLINE_MISSED.value
CLOSING = (Handoff.Completed, Handoff.Declined, Handoff.Cancelled, Handoff.Failed)
ESCALATION_COLUMNS = ("escalated_level", "next_level", "next_repeat", "next_due_us")


class TimersProjection(Projection):
    """Arms, re-arms and disarms timer rows as the handoff's promises change."""

    name = "timers"
    version = 3  # 3: failed handoffs disarm, replies and take-overs re-arm the update timer
    tables = (TIMERS, TIMER_OWNERS)
    ignores = (Handoff.NoteAdded, ChainWatch.Started)
    unread_by = {"timer_owners": (Handoff.Escalated,)}

    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        timers, owners = tables["timers"], tables["timer_owners"]
        hid = text_id(event.originator_id)
        if isinstance(event, Handoff.Created):
            owner: dict[str, Any] | None = {
                "handoff_id": hid,
                "receiver": event.receiver,
                "sender": event.sender,
                "chain_id": text_id(event.chain_id),
                "kind": event.kind,
            }
            assert owner is not None
            owners.put(owner)
            self._arm(timers, owner, ACK, us(event.ack_due))
            self._arm(timers, owner, DEADLINE, us(event.deadline_due))
            return
        if isinstance(event, CLOSING):
            owners.delete((hid,))
            for reason in (ACK, UPDATE, DEADLINE):
                timers.delete((hid, reason))
            return
        if isinstance(event, Handoff.Escalated):
            # Its own row only (none once the handoff closed): a reactor's pass of
            # thousands of escalations reads no owners.
            if event.timer_due is not None:
                self._escalated(timers, hid, event)
            return
        owner = owners.get((hid,))
        if owner is None:
            return
        if isinstance(event, Handoff.Acked):
            timers.delete((hid, ACK))
            self._arm(timers, owner, UPDATE, us(event.update_due))
        elif isinstance(event, Handoff.StatusReported):
            timers.delete((hid, UPDATE))
            self._arm(timers, owner, UPDATE, us(event.update_due))
        elif isinstance(event, Handoff.TakenOver) or (
            isinstance(event, Handoff.Replied) and event.update_due is not None
        ):
            timers.delete((hid, UPDATE))  # the next update is owed from the reply/take-over
            self._arm(timers, owner, UPDATE, us(event.update_due))
        elif isinstance(event, Handoff.Reassigned):
            owner = {**owner, "receiver": event.to_receiver}
            owners.put(owner)
            old_deadline = timers.get((hid, DEADLINE))
            for reason in (ACK, UPDATE, DEADLINE):
                timers.delete((hid, reason))
            self._arm(timers, owner, ACK, us(event.ack_due))
            self._arm(timers, owner, DEADLINE, us(event.deadline_due))
            # An absolute deadline survives reassignment, and so does its escalation.
            kept = timers.get((hid, DEADLINE))
            if old_deadline and kept and old_deadline["due_us"] == kept["due_us"]:
                timers.put({**kept, **{k: old_deadline[k] for k in ESCALATION_COLUMNS}})

    @staticmethod
    def _escalated(timers: Table, hid: str, event: Handoff.Escalated) -> None:
        row = timers.get((hid, event.reason))
        if row is not None and row["due_us"] == us(event.timer_due):
            level = max(int(row["escalated_level"] or 0), event.level)
            planned = event.next_due is not None and event.next_level is not None
            timers.put(
                {
                    **row,
                    "escalated_level": level,
                    "next_level": event.next_level if planned else None,
                    "next_repeat": (event.next_repeat or 0) if planned else None,
                    "next_due_us": us(event.next_due) if planned else None,
                }
            )

    @staticmethod
    def _arm(timers: Table, owner: dict[str, Any], reason: str, due_us: int | None) -> None:
        if due_us is not None:
            timers.put(
                {
                    **owner,
                    "reason": reason,
                    "due_us": due_us,
                    "escalated_level": 0,
                    "next_level": 1,
                    "next_repeat": 0,
                    "next_due_us": due_us,
                }
            )


def due_rows(rows: Iterable[Mapping[str, Any]], now_us: int) -> list[dict[str, Any]]:
    """Timer rows due at or before ``now_us``, earliest first (as the view's query)."""
    due = [dict(r) for r in rows if int(r["due_us"]) <= now_us]
    return sorted(due, key=lambda r: (int(r["due_us"]), str(r["handoff_id"]), str(r["reason"])))

"""The agent board: per agent, its latest broadcast, its open load, its punctuality.

``agents`` holds one row per agent (latest status, counters, acks on time vs late);
``agent_open`` holds one row per open handoff with its receiver and ack due time,
which is what decides punctuality and gives "oldest open item" as an index lookup.
``agent_handoffs`` and ``agent_promises`` (:mod:`.promises`) hold every ETA and
next-update promise and whether it was kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.watch import ChainWatch
from handoff_ledger.projections.base import Column, Projection, Table, TableSpec, text_id, us
from handoff_ledger.projections.promises import (
    AGENT_HANDOFFS,
    AGENT_PROMISES,
    SILENT,
    track_promises,
)

__all__ = ["AGENTS", "AGENT_OPEN", "AgentsProjection"]

AGENTS = TableSpec(
    name="agents",
    columns={
        "agent": Column.TEXT,
        "status": Column.TEXT,
        "status_message": Column.TEXT,
        "status_us": Column.INT,
        "status_handoff_id": Column.TEXT,
        "open_count": Column.INT,
        "received": Column.INT,
        "sent": Column.INT,
        "acks_on_time": Column.INT,
        "acks_late": Column.INT,
        "completed": Column.INT,
        "declined": Column.INT,
        "escalations": Column.INT,
        "last_seen_us": Column.INT,
    },
    key=("agent",),
    partition="agent",
)

AGENT_OPEN = TableSpec(
    name="agent_open",
    columns={
        "handoff_id": Column.TEXT,
        "receiver": Column.TEXT,
        "created_us": Column.INT,
        "ack_due_us": Column.INT,
        "acked": Column.INT,
    },
    key=("handoff_id",),
    partition="handoff_id",
    indexes=(("receiver", "created_us"),),
)

_RECEIVER_COUNTED = (
    Handoff.Escalated, Handoff.Reassigned,
    Handoff.Completed, Handoff.Declined, Handoff.Cancelled, Handoff.Failed,
)  # fmt: skip
"""Events that change the counters of the handoff's receiver, whom they do not name."""

_COUNTERS = (
    "open_count", "received", "sent", "acks_on_time", "acks_late",
    "completed", "declined", "escalations",
)  # fmt: skip


class AgentsProjection(Projection):
    """Keeps each agent's row and its open handoffs current."""

    name = "agents"
    version = 3  # 3: promises (agent_handoffs, agent_promises); 2: failed, replies
    tables = (AGENTS, AGENT_OPEN, AGENT_HANDOFFS, AGENT_PROMISES)
    ignores = (ChainWatch.Started,)
    unread_by = {
        AGENT_HANDOFFS.name: SILENT,
        AGENT_PROMISES.name: SILENT,
    }

    def related_partitions(
        self, events: Sequence[tuple[int, Any]], tables: Mapping[str, Table]
    ) -> Mapping[str, Iterable[Any]]:
        """The receivers whose counters the batch's escalations and closings change:
        read from the handoffs' open rows (10,000 escalations among 100 receivers were
        otherwise 100 reads of one agent row each, per batch)."""
        open_items = tables["agent_open"]
        receivers = []
        for _, event in events:
            if isinstance(event, _RECEIVER_COUNTED):
                item = open_items.get((text_id(event.originator_id),))
                if item is not None:
                    receivers.append(item["receiver"])
        return {"agents": receivers}

    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        agents, open_items = tables["agents"], tables["agent_open"]
        hid = text_id(event.originator_id)
        at = us(event.timestamp)
        assert at is not None  # every event is recorded at a time
        track_promises(event, hid, at, tables)
        if isinstance(event, Handoff.Created):
            open_items.put(
                {
                    "handoff_id": hid,
                    "receiver": event.receiver,
                    "created_us": at,
                    "ack_due_us": us(event.ack_due),
                    "acked": 0,
                }
            )
            self._bump(agents, event.receiver, {"open_count": 1, "received": 1})
            self._bump(agents, event.sender, {"sent": 1}, seen_us=at)
            return
        item = open_items.get((hid,))
        if isinstance(event, Handoff.Acked) and item is not None:
            late = item["ack_due_us"] is not None and at is not None and at > item["ack_due_us"]
            self._bump(agents, event.by, {"acks_late" if late else "acks_on_time": 1}, seen_us=at)
            open_items.put({**item, "acked": 1})
        elif isinstance(event, Handoff.StatusReported):
            row = self._row(agents, event.by)
            agents.put(
                {
                    **row,
                    "status": event.status,
                    "status_message": event.message,
                    "status_us": at,
                    "status_handoff_id": hid,
                    "last_seen_us": at,
                }
            )
        elif isinstance(event, Handoff.Escalated) and item is not None:
            self._bump(agents, item["receiver"], {"escalations": 1})
        elif isinstance(event, Handoff.Reassigned) and item is not None:
            self._bump(agents, item["receiver"], {"open_count": -1})
            self._bump(agents, event.to_receiver, {"open_count": 1, "received": 1})
            open_items.put(
                {**item, "receiver": event.to_receiver, "ack_due_us": us(event.ack_due), "acked": 0}
            )
        elif isinstance(
            event, Handoff.Completed | Handoff.Declined | Handoff.Cancelled | Handoff.Failed
        ):
            if item is not None:
                open_items.delete((hid,))
                self._bump(agents, item["receiver"], {"open_count": -1})
            if isinstance(event, Handoff.Completed):
                self._bump(agents, event.by, {"completed": 1}, seen_us=at)
            elif isinstance(event, Handoff.Declined):
                self._bump(agents, event.by, {"declined": 1}, seen_us=at)
        elif isinstance(event, Handoff.NoteAdded | Handoff.Replied):
            self._bump(agents, event.by, {}, seen_us=at)

    @staticmethod
    def _row(agents: Table, agent: str) -> dict[str, Any]:
        row = agents.get((agent,))
        if row is not None:
            return row
        blank: dict[str, Any] = dict.fromkeys(AGENTS.columns)
        blank.update(dict.fromkeys(_COUNTERS, 0), agent=agent)
        return blank

    def _bump(
        self, agents: Table, agent: str, deltas: dict[str, int], seen_us: int | None = None
    ) -> None:
        row = self._row(agents, agent)
        for column, delta in deltas.items():
            row[column] = int(row[column] or 0) + delta
        if seen_us is not None:
            row["last_seen_us"] = seen_us
        agents.put(row)

"""Notification feeds: per agent, every broadcast it must hear about, with a cursor.

Who hears what: everyone taking part in a chain (senders and receivers of its
handoffs), everyone an escalation on it notified, and everyone watching it hears
every event on that chain, except the agent who caused it. The cursor of a feed
entry is the event's log position: it only grows, and a rebuilt feed has the same
cursors, so an agent that resumes from its last cursor sees nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.integrity import HASH_FIELDS
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

__all__ = ["FEED", "FEED_EVENTS", "MEMBERS", "NotificationsProjection"]

MEMBERS = TableSpec(
    name="chain_members",
    columns={
        "chain_id": Column.TEXT,
        "agent": Column.TEXT,
        "role": Column.TEXT,
        "since_position": Column.INT,
    },
    key=("chain_id", "agent"),
    partition="chain_id",
)

FEED = TableSpec(
    name="feed",
    columns={"agent": Column.TEXT, "position": Column.INT},
    key=("agent", "position"),
    partition="agent",
    append_only=True,
)
"""Who hears which event: one narrow row per recipient."""

FEED_EVENTS = TableSpec(
    name="feed_events",
    columns={
        "position": Column.INT,
        "handoff_id": Column.TEXT,
        "chain_id": Column.TEXT,
        "type": Column.TEXT,
        "by": Column.TEXT,
        "at_us": Column.INT,
        "detail": Column.TEXT,
    },
    key=("position",),
    partition="position",
    append_only=True,
)
"""What was broadcast: one row per event, however many agents hear it."""

_ENVELOPE = {
    "originator_id", "originator_version", "timestamp", "originator_topic", *HASH_FIELDS,
}  # fmt: skip
"""Left out of a feed entry's detail: the envelope, and the hash chain's fields (the
audit's business, read from the log; the views are built without reading them)."""


class NotificationsProjection(Projection):
    """Chain membership, and one feed entry per recipient per event."""

    name = "notifications"
    version = 3
    tables = (MEMBERS, FEED, FEED_EVENTS)

    def process(self, event: Any, position: int, tables: Mapping[str, Table]) -> None:
        members, feed = tables["chain_members"], tables["feed"]
        chain = text_id(event.chain_id)
        if isinstance(event, ChainWatch.Started):
            self._join(members, chain, event.by, "watcher", position)
            return
        if not isinstance(event, Handoff.Event):
            return
        if isinstance(event, Handoff.Created):
            self._join(members, chain, event.sender, "party", position)
            self._join(members, chain, event.receiver, "party", position)
            for target in event.escalate_to:
                self._join(members, chain, target, "escalation", position)
        elif isinstance(event, Handoff.Reassigned):
            self._join(members, chain, event.to_receiver, "party", position)
        elif isinstance(event, Handoff.Escalated):
            for target in event.notified:
                self._join(members, chain, target, "escalation", position)
        recipients = [m["agent"] for m in members.find(chain) if m["agent"] != event.by]
        if not recipients:
            return
        fields = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
        tables["feed_events"].append(
            {
                "position": position,
                "handoff_id": text_id(event.originator_id),
                "chain_id": chain,
                "type": type(event).__name__,
                "by": event.by,
                "at_us": us(event.timestamp),
                "detail": to_json(fields),
            }
        )
        for agent in recipients:
            feed.append({"agent": agent, "position": position})

    @staticmethod
    def _join(members: Table, chain: str, agent: str, role: str, position: int) -> None:
        if members.get((chain, agent)) is None:
            members.put(
                {"chain_id": chain, "agent": agent, "role": role, "since_position": position}
            )

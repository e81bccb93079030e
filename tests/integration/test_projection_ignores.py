"""What the runner may skip: each projection's ``ignores`` and ``related_partitions``.

The runner neither applies nor fetches rows for the event classes a projection says
it ignores, and fetches the partitions ``related_partitions`` names before applying a
batch. Both are only right if the claims hold: an ignored event changes nothing in
the view, and the named partitions are the ones the batch reads.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from test_views import assert_views_match_fold, every_event_once

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.adapters.views.sql import BatchTable
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.projections.base import _default, to_json
from handoff_ledger.projections.fold import MemoryTable, MemoryViews
from handoff_ledger.projections.registry import all_projections


def _events(ledger: Ledger) -> list[tuple[int, Any]]:
    return [
        (n.id, ledger.mapper.to_domain_event(n))
        for n in ledger.recorder.select_notifications(start=1, limit=10**9, topics=VIEW_TOPICS)
    ]


def test_an_event_a_projection_ignores_changes_none_of_its_rows(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    every_event_once(ledger, clock)
    events = _events(ledger)
    skipped = 0
    for projection in all_projections():
        memory = MemoryViews([projection])
        for position, event in events:
            if isinstance(event, projection.ignores):
                before = copy.deepcopy({n: t.rows for n, t in memory.tables.items()})
                memory.apply(event, position)
                after = {n: t.rows for n, t in memory.tables.items()}
                assert after == before, (projection.name, type(event).__name__)
                skipped += 1
            else:
                memory.apply(event, position)
    assert skipped > 0  # the log holds events some projection ignores


class _Unreadable(MemoryTable):
    """A table that refuses reads, for the events a projection says never read it."""

    def get(self, key: Any) -> Any:
        raise AssertionError(f"{self.spec.name} read")

    def find(self, partition: Any) -> Any:
        raise AssertionError(f"{self.spec.name} read")


def test_an_event_reads_no_row_of_the_tables_its_projection_says_it_leaves_unread(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    every_event_once(ledger, clock)
    events = _events(ledger)
    checked = 0
    for projection in all_projections():
        memory = MemoryViews([projection])
        for position, event in events:
            unread = [
                t for t, classes in projection.unread_by.items() if isinstance(event, classes)
            ]
            kept = {name: memory.tables[name] for name in unread}
            for name, table in kept.items():
                refusing = _Unreadable(table.spec)
                refusing.rows, refusing._partitions = table.rows, table._partitions
                memory.tables[name] = refusing
            memory.apply(event, position)
            memory.tables.update(kept)
            checked += len(unread)
    assert checked > 0


def test_a_batch_of_escalations_reads_each_receivers_agent_row_in_one_query(
    ledger: Ledger, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Escalations name neither the receiver nor its agent row; the agents view reads
    the receivers from the open handoffs' rows first, all in one query per table."""
    views = Views(ledger)
    receivers = ["code_agent", "support_agent", "inbox_monitor"]
    ids = [
        ledger.send(
            sender="human:me", to=receivers[n % 3], ack_within=timedelta(minutes=1),
            escalate_to=["human:me"],
        ).handoff.id
        for n in range(30)
    ]  # fmt: skip
    views.catch_up()
    clock.advance(timedelta(minutes=5))
    for hid in ids:
        handoff = ledger.get(hid)
        (timer,) = handoff.due_timers(clock.now())
        step = handoff.next_step(timer)
        assert step is not None
        ledger.fire_escalation(
            hid, by="reactor", reason=timer.reason, timer_due=timer.due,
            level=step.level, repeat=step.repeat,
        )  # fmt: skip
    reads: list[tuple[str, list[Any]]] = []
    prefetch = BatchTable.prefetch

    def counted(table: BatchTable, partitions: Any) -> None:
        wanted = [p for p in dict.fromkeys(partitions) if p not in table._loaded]
        if wanted:
            reads.append((table.spec.name, wanted))
        prefetch(table, wanted)

    monkeypatch.setattr(BatchTable, "prefetch", counted)
    assert views.runner.catch_up() == 30
    agent_reads = [partitions for name, partitions in reads if name == "agents"]
    assert len(agent_reads) <= 2, agent_reads  # the events' agents, then the receivers
    assert set(receivers) <= {p for partitions in agent_reads for p in partitions}
    # queues and taken work ignore escalations, and they leave the promise tables unread
    unread = ("queue", "held", "agent_handoffs", "agent_promises")
    assert not [name for name, _ in reads if name in unread]
    assert_views_match_fold(ledger, views)


def test_feed_details_are_the_json_the_standard_encoder_writes() -> None:
    """``to_json`` keeps one C encoder; its text is ``JSONEncoder.encode``'s."""
    standard = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default)
    values: list[Any] = [
        "plain", 1, 2.5, None, True, [], {},
        {"nested": [1, {"deep": None}], 3: "int key", "é": "ü\u2028", "q": 'a"b\\c\n'},
        {"at": datetime(2026, 11, 25, 9, 0, 1, 234567, tzinfo=UTC), "id": UUID(int=7)},
        {"east": datetime(2026, 11, 25, 9, tzinfo=timezone(timedelta(hours=2)))},
        {"priority": Priority.HIGH, "pair": (1, 2), "set": frozenset({"x"})},
    ]  # fmt: skip
    for value in values:
        assert to_json(value) == standard.encode(value)
    assert to_json({"at": datetime(2026, 11, 25, tzinfo=UTC)}) == '{"at":"2026-11-25T00:00:00Z"}'

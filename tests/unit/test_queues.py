"""Queue order: priority (critical first), then creation time, then id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.projections.queues import queue_for, queue_position

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def make(minute: int, priority: Priority, receiver: str = "code_agent") -> Handoff:
    return Handoff.request(
        now=T0 + timedelta(minutes=minute),
        sender="inbox_monitor",
        receiver=receiver,
        priority=priority,
    )


def test_queue_orders_by_priority_then_age_then_id() -> None:
    old_low = make(0, Priority.LOW)
    new_critical = make(30, Priority.CRITICAL)
    old_medium = make(1, Priority.MEDIUM)
    new_medium = make(2, Priority.MEDIUM)
    twin_a, twin_b = make(3, Priority.HIGH), make(3, Priority.HIGH)
    other_agent = make(0, Priority.CRITICAL, receiver="support_agent")
    everything = [old_low, new_critical, old_medium, new_medium, twin_a, twin_b, other_agent]
    twins = sorted([twin_a, twin_b], key=lambda h: str(h.id))
    assert queue_for("code_agent", everything) == [
        new_critical, *twins, old_medium, new_medium, old_low,
    ]  # fmt: skip
    assert queue_position(old_medium, everything) == 4
    assert queue_position(other_agent, everything) == 1


def test_closed_handoffs_leave_the_queue() -> None:
    first, second = make(0, Priority.MEDIUM), make(1, Priority.MEDIUM)
    first.complete(by="code_agent", now=T0 + timedelta(minutes=5))
    assert queue_for("code_agent", [first, second]) == [second]
    assert queue_position(first, [first, second]) is None
    assert queue_position(second, [first, second]) == 1

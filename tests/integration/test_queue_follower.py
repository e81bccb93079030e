"""The server's queues follower: an ack waits for it, and reads its own position."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from handoff_ledger.adapters.clock import SimulatedClock
from handoff_ledger.adapters.http.queue_follower import QueueFollower
from handoff_ledger.adapters.ledger import Ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.projections.registry import all_projections


@pytest.fixture
def follower(ledger: Ledger) -> Iterator[QueueFollower]:
    queues = Views(ledger, [p for p in all_projections() if p.name == "queues"])
    # Idle rounds far apart: whatever the view has applied, a waiting ack asked for.
    follower = QueueFollower(queues, idle=3600)
    stop = threading.Event()
    thread = follower.start(stop)
    yield follower
    stop.set()
    with follower._cond:
        follower._cond.notify_all()
    thread.join(timeout=10)


def test_an_ack_wakes_the_follower_and_reads_its_own_queue_position(
    ledger: Ledger, follower: QueueFollower, clock: SimulatedClock
) -> None:
    first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(seconds=1))
    second = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    acked = ledger.ack(second.id, by="code_agent")
    assert acked.recorded
    assert acked.position is not None
    assert follower.wait_for(acked.position, timeout=30)
    assert follower.views.store.positions(["queues"])["queues"] >= acked.position
    assert follower.views.read.queue_position(str(second.id)) == 2
    assert follower.views.read.queue_position(str(first.id)) == 1


def test_a_repeated_ack_has_no_position_of_its_own(ledger: Ledger) -> None:
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    assert ledger.ack(hid, by="code_agent").position is not None
    again = ledger.ack(hid, by="code_agent")
    assert (again.recorded, again.position) == (False, None)


def test_without_a_running_follower_a_wait_gives_up_after_its_timeout(ledger: Ledger) -> None:
    queues = Views(ledger, [p for p in all_projections() if p.name == "queues"])
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    position = ledger.ack(hid, by="code_agent").position
    assert position is not None
    assert not QueueFollower(queues).wait_for(position, timeout=0.01)

"""What ``ack`` answers from in ``handoff serve``: the queues view, caught up by acks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from handoff_ledger.adapters.faces.runtime.following import FollowInThreads
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.views import Views


@pytest.fixture
def service(ledger: Ledger) -> Iterator[Service]:
    svc = Service(ledger=ledger, views=Views(ledger), following=FollowInThreads())
    stop = threading.Event()
    follower = svc.follow(stop)  # as `handoff serve` does (one process)
    yield svc
    stop.set()
    follower.join(timeout=30)


def test_an_ack_reads_its_own_queue_position_from_the_view(
    ledger: Ledger, service: Service, clock: SimulatedClock
) -> None:
    first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(seconds=1))
    second = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    acked = ledger.ack(second.id, by="code_agent")
    assert acked.position is not None
    views = service.queues_at(acked.position)
    assert views.store.positions(["queues"])["queues"] >= acked.position
    assert views.read.queue_position(str(second.id)) == 2
    assert views.read.queue_position(str(first.id)) == 1
    assert [row["state"] for row in views.read.inbox("code_agent")] == ["requested", "acked"]


def test_acks_at_once_each_see_their_own_event_in_the_view(
    ledger: Ledger, service: Service
) -> None:
    agents = [f"worker_{n}" for n in range(8)]
    ids = {agent: ledger.send(sender="inbox_monitor", to=agent).handoff.id for agent in agents}

    def ack(agent: str) -> tuple[str, int | None]:
        outcome = ledger.ack(ids[agent], by=agent)
        assert outcome.position is not None
        views = service.queues_at(outcome.position)
        (row,) = views.read.inbox(agent)
        return row["state"], views.read.queue_position(str(ids[agent]))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(ack, agents)) == [("acked", 1)] * 8


def test_a_repeated_ack_has_no_position_of_its_own(ledger: Ledger) -> None:
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    assert ledger.ack(hid, by="code_agent").position is not None
    again = ledger.ack(hid, by="code_agent")
    assert (again.recorded, again.position) == (False, None)


def test_an_ack_whose_event_a_round_already_applied_runs_no_round(
    ledger: Ledger, service: Service, clock: SimulatedClock
) -> None:
    first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(seconds=1))
    second = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    earlier = ledger.ack(first.id, by="code_agent")
    later = ledger.ack(second.id, by="code_agent")
    assert earlier.position is not None
    assert later.position is not None
    rounds = service.following.rounds
    assert rounds is not None
    service.queues_at(later.position)  # one round: both acks applied
    assert service.queue_view.runner.reached >= later.position
    started = rounds._started
    views = service.queues_at(earlier.position)  # the earlier ack: no round of its own
    assert rounds._started == started
    assert views.read.queue_position(str(first.id)) == 1

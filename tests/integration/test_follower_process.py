"""``handoff serve``'s views follower in a child process: follows, survives SIGKILL, stops."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from waiting import eventually

from handoff_ledger.adapters.faces.runtime.following import FollowInChild
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.follower import FollowerProcess

FOLLOWED = ["timers", "chains", "agents", "notifications"]


def followed_up_to(views: Views, position: int) -> Callable[[], bool]:
    return lambda: min(views.store.positions(FOLLOWED).values()) >= position


@pytest.fixture
def following(ledger: Ledger) -> Iterator[tuple[FollowerProcess, threading.Event]]:
    stop = threading.Event()
    follower = FollowerProcess(ledger, FOLLOWED, settle=0.0)
    supervisor = follower.run(stop)
    yield follower, stop
    stop.set()
    supervisor.join(timeout=30)
    assert not supervisor.is_alive()
    assert follower.child.exitcode is not None, "the child outlived its stop"


def test_the_child_keeps_the_views_current_without_any_reader(
    ledger: Ledger, following: tuple[FollowerProcess, threading.Event]
) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent", escalate_to=["human:me"])
    acked = ledger.ack(sent.handoff.id, by="code_agent")
    assert acked.position is not None
    views = Views(ledger)  # reads only: this process never catches these views up
    assert eventually(followed_up_to(views, acked.position))
    assert views.store.positions(["queues"])["queues"] == 0  # not the child's to apply
    assert "code_agent" in [row["agent"] for row in views.read.agents()]


def test_a_killed_child_is_replaced_and_nothing_is_applied_twice(
    ledger: Ledger, following: tuple[FollowerProcess, threading.Event]
) -> None:
    follower, _ = following
    first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    views = Views(ledger)
    assert eventually(followed_up_to(views, ledger.recorder.max_notification_id() or 0))
    os.kill(follower.child.pid, signal.SIGKILL)
    second = ledger.send(sender="inbox_monitor", to="code_agent", parent_id=first.id).handoff
    head = ledger.recorder.max_notification_id() or 0
    assert eventually(lambda: follower.starts == 2)
    assert eventually(followed_up_to(views, head))
    chain = views.read.chain(str(first.chain_id))
    assert sorted(row["handoff_id"] for row in chain) == sorted([str(first.id), str(second.id)])
    # The feed has the second Created once per recipient, not again for a replayed batch.
    feed = views.read.notifications("code_agent", after=0, limit=100)
    assert [entry["handoff_id"] for entry in feed] == [str(first.id), str(second.id)]


def test_stop_ends_the_child(
    ledger: Ledger, following: tuple[FollowerProcess, threading.Event]
) -> None:
    follower, stop = following
    child = follower.child
    assert eventually(lambda: child.is_alive(), 10)
    stop.set()
    assert eventually(lambda: child.exitcode is not None, 30)
    assert follower.starts == 1  # stopping is not dying: no replacement


def test_serve_uses_the_child_for_every_view_but_the_queues(ledger: Ledger) -> None:
    service = Service(ledger=ledger, views=Views(ledger), following=FollowInChild())
    stop = threading.Event()
    supervisor = service.follow(stop)
    try:
        hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
        acked = ledger.ack(hid, by="code_agent")
        assert acked.position is not None
        assert service.queues_at(acked.position).read.queue_position(str(hid)) == 1
        assert eventually(followed_up_to(service.views, acked.position))
    finally:
        stop.set()
        supervisor.join(timeout=30)
    assert not supervisor.is_alive()


def test_the_child_catches_the_queues_up_when_asked(ledger: Ledger, clock: SimulatedClock) -> None:
    stop = threading.Event()
    follower = FollowerProcess(ledger, FOLLOWED, settle=0.0, on_request=["queues"])
    supervisor = follower.run(stop)
    try:
        views = Views(ledger)
        for round_ in range(3):  # each ack's own event, in the view it answers from
            clock.advance(timedelta(seconds=1))  # later handoffs queue behind earlier ones
            hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
            acked = ledger.ack(hid, by="code_agent")
            assert acked.position is not None
            assert follower.caught_up(acked.position, timeout=30)
            assert views.store.positions(["queues"])["queues"] >= acked.position
            assert views.read.queue_position(str(hid)) == round_ + 1
        assert follower.reached >= acked.position
    finally:
        stop.set()
        supervisor.join(timeout=30)


def test_with_the_child_killed_an_ack_catches_the_queues_up_itself(ledger: Ledger) -> None:
    service = Service(ledger=ledger, views=Views(ledger), following=FollowInChild())
    stop = threading.Event()
    supervisor = service.follow(stop)
    child = service.following.child
    assert child is not None
    try:
        os.kill(child.child.pid, signal.SIGKILL)
        assert eventually(lambda: not child._answering)
        hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
        acked = ledger.ack(hid, by="code_agent")
        assert acked.position is not None
        assert not child.caught_up(acked.position, timeout=0.5)  # nobody to answer
        views = service.queues_at(acked.position)  # so the request does it
        assert views.read.queue_position(str(hid)) == 1
        assert eventually(lambda: child.starts == 2)  # and the replacement answers again
        again = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
        later = ledger.ack(again, by="code_agent")
        assert later.position is not None
        assert eventually(lambda: child.caught_up(later.position or 0, timeout=5))
    finally:
        stop.set()
        supervisor.join(timeout=30)


def test_the_child_catches_up_only_the_views_asked_for(ledger: Ledger) -> None:
    stop = threading.Event()
    follower = FollowerProcess(ledger, [], settle=0.0, on_request=["queues", "timers"])
    supervisor = follower.run(stop)
    try:
        views = Views(ledger)
        hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
        acked = ledger.ack(hid, by="code_agent")
        assert acked.position is not None
        assert follower.caught_up(acked.position, timeout=30, views=["queues"])
        positions = views.store.positions(["queues", "timers"])
        assert positions["queues"] >= acked.position
        assert positions["timers"] == 0, "a view not asked for was caught up"
        assert follower.reached < acked.position  # not every view the child serves holds it
        with pytest.raises(ValueError, match=r"\['chains'\]"):
            follower.ask(["queues", "chains"])  # not a view this child serves on request
        assert follower.caught_up(acked.position, timeout=30)  # all of them now
        assert min(views.store.positions(["queues", "timers"]).values()) >= acked.position
        assert follower.reached >= acked.position
    finally:
        stop.set()
        supervisor.join(timeout=30)

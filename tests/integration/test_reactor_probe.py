"""The idle pass (reactor_probe.py): one read skips a pass with nothing to do, and
every kind of work (a new event, a due step, a due delivery retry, a new A2A push
configuration, another process's catch-up) makes the next pass run whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.a2a_push import PushConfigs
from handoff_ledger.adapters.services.reactor import PassReport, Reactor
from handoff_ledger.adapters.views import Views

DEAD = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, every POST fails


class Counted(Reactor):
    """A reactor that counts its whole passes (the views' catch-up at their start)."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.whole = 0
        catch_up = self.views.catch_up

        def counted() -> int:
            self.whole += 1
            return catch_up()

        self.views.catch_up = counted  # type: ignore[method-assign]

    def run(self, count: int) -> tuple[int, list[PassReport]]:
        """``count`` passes: how many ran whole, and their reports."""
        before = self.whole
        reports = [self.run_once() for _ in range(count)]
        return self.whole - before, reports


@pytest.fixture
def reactor(ledger: Ledger) -> Iterator[Counted]:
    made = Counted(ledger)
    yield made
    made.close()


def settle(reactor: Counted) -> None:
    """Passes until one is skipped (at most three run whole: after any work, the next
    pass runs whole once more, from a read with every position at the top)."""
    for _ in range(4):
        whole, _ = reactor.run(1)
        if not whole:
            return
    raise AssertionError("the reactor never went idle")


def test_idle_passes_are_skipped_and_still_counted(ledger: Ledger, reactor: Counted) -> None:
    ledger.send(sender="inbox_monitor", to="agent_0", ack_within=timedelta(hours=1))
    settle(reactor)
    recorded = reactor.passes.totals()
    whole, reports = reactor.run(5)
    assert whole == 0
    assert all(r == PassReport() for r in reports)
    totals = reactor.passes.totals()  # each skipped pass has its pass row
    assert recorded is not None
    assert totals is not None
    assert totals.passes == recorded.passes + 5


def test_a_new_event_makes_the_next_pass_whole(ledger: Ledger, reactor: Counted) -> None:
    settle(reactor)
    ledger.send(sender="inbox_monitor", to="agent_0")
    whole, _ = reactor.run(1)
    assert whole == 1
    assert [s.lag_events for s in reactor.views.status()] == [0] * len(reactor.views.projections)


def test_a_step_falling_due_is_taken_by_the_next_pass(
    ledger: Ledger, reactor: Counted, clock: SimulatedClock
) -> None:
    sent = ledger.send(
        sender="inbox_monitor", to="agent_0", ack_within=timedelta(hours=1),
        escalate_to=["human:me"],
    ).handoff  # fmt: skip
    settle(reactor)
    clock.advance(timedelta(minutes=59))
    assert reactor.run(1)[0] == 0
    clock.advance(timedelta(minutes=1))  # nothing was written: only the clock moved
    whole, reports = reactor.run(1)
    assert whole == 1
    assert reports[0].escalated == [(str(sent.id), "ack_timeout")]


def test_a_delivery_retry_falling_due_is_sent_by_the_next_pass(
    ledger: Ledger, reactor: Counted, clock: SimulatedClock
) -> None:
    ledger.apply_protocol(
        f'allow_private_webhooks = true\n[agents.inbox_monitor]\n[agents.agent_0]\n'
        f'webhook = "{DEAD}"\n',
        source="handoff.toml", by="human:me",
    )  # fmt: skip
    ledger.send(sender="inbox_monitor", to="agent_0")
    whole, reports = reactor.run(1)
    assert reports[0].deliveries
    assert not any(a.delivered for a in reports[0].deliveries)  # a retry is planned
    settle(reactor)
    due = next(s.next_attempt for s in reactor.deliveries.status() if s.agent == "agent_0")
    assert due is not None
    clock.set(due - timedelta(seconds=1))
    assert reactor.run(1)[0] == 0
    clock.set(due)
    whole, reports = reactor.run(1)
    assert whole == 1
    assert reports[0].deliveries  # tried again
    assert not any(a.delivered for a in reports[0].deliveries)


def test_another_process_catching_up_the_views_makes_the_next_pass_whole(
    ledger: Ledger, reactor: Counted
) -> None:
    settle(reactor)
    probe = reactor.probe.read()
    ledger.send(sender="inbox_monitor", to="agent_0")
    Views(ledger).catch_up()  # a server's catch-up: the views' positions move
    moved = reactor.probe.read()
    assert moved.top > probe.top
    assert moved.positions != probe.positions
    assert not moved.settled  # the follow-ups' position is still behind the top
    whole, _ = reactor.run(1)
    assert whole == 1


def test_a_new_push_configuration_makes_the_next_pass_whole(
    ledger: Ledger, reactor: Counted
) -> None:
    settle(reactor)
    before = reactor.probe.read()
    PushConfigs(ledger, reactor.views.store).ensure()
    after = reactor.probe.read()
    assert after.pushes != before.pushes  # the table appeared
    assert after.top == before.top
    assert reactor.run(1)[0] == 1

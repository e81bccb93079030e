"""The idle pass (reactor_probe.py): one read skips a pass with nothing to do, and
every kind of work (a new event, a due step, a due delivery retry, a new A2A push
configuration, another process's catch-up) makes the next pass run whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.a2a_push import PushConfigs
from handoff_ledger.adapters.services.reactor import PassReport, Reactor
from handoff_ledger.adapters.services.reactor_passes import ReactorPasses
from handoff_ledger.adapters.views import Views
from handoff_ledger.projections.base import us

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
    reactor.passes.flush()  # PostgreSQL: a skipped pass's figures wait for the next statement
    recorded = reactor.passes.totals()
    whole, reports = reactor.run(5)
    assert whole == 0
    assert all(r == PassReport() for r in reports)
    reactor.passes.flush()
    totals = reactor.passes.totals()  # each skipped pass has its pass row
    assert recorded is not None
    assert totals is not None
    assert totals.passes == recorded.passes + 5


def test_an_idle_pass_is_its_probe_alone_and_every_pass_is_counted(
    ledger: Ledger, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle passes are added up in memory and written with a later write: an idle pass
    sends one statement (PostgreSQL) or opens one transaction (SQLite), and the row
    counts every pass once the reactor closes."""
    reactor = Counted(ledger)
    try:
        ledger.send(sender="inbox_monitor", to="agent_0", ack_within=timedelta(hours=1))
        settle(reactor)
        reactor.passes.flush()
        recorded = reactor.passes.totals()
        assert recorded is not None
        statements = count_statements(monkeypatch, reactor)
        for _ in range(5):
            clock.advance(timedelta(seconds=1))
            statements.clear()
            assert reactor.run(1)[0] == 0
            assert len(statements) == 1, statements  # the probe
        monkeypatch.undo()
        written = reactor.passes.totals()
        assert written == recorded  # not written yet
    finally:
        reactor.close()  # writes them
    totals = ReactorPasses(ledger, Views(ledger).store).totals()
    assert totals is not None
    assert totals.passes == recorded.passes + 5
    assert totals.last_at_us == us(clock.now())


def test_idle_passes_are_written_every_few_seconds_and_after_a_gap_at_once(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """A running reactor's row is at most ``write_every`` seconds behind (``serve``
    reads it to tell whether a reactor runs): an idle pass that comes that long after
    the last write writes itself and the passes before it."""
    reactor = Counted(ledger)
    try:
        settle(reactor)
        reactor.passes.flush()
        recorded = reactor.passes.totals()
        assert reactor.run(2)[0] == 0
        assert reactor.passes.totals() == recorded
        reactor.passes.write_every = 0.0  # the last write is "long" ago
        clock.advance(timedelta(minutes=5))
        assert reactor.run(1)[0] == 0
        totals = reactor.passes.totals()  # nothing flushed: written by the pass itself
    finally:
        reactor.close()
    assert recorded is not None
    assert totals is not None
    assert totals.passes == recorded.passes + 3
    assert totals.last_at_us == us(clock.now())


def count_statements(monkeypatch: pytest.MonkeyPatch, reactor: Reactor) -> list[Any]:
    """Every statement the store's connections send from now on (PostgreSQL), or every
    transaction the views' store opens (SQLite, whose probe is a transaction)."""
    sent: list[Any] = []
    if reactor.views.store.dialect.backend == "postgresql":
        execute = psycopg.Cursor.execute

        def counted(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(query)
            return execute(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    else:
        store = reactor.views.store
        transaction = store.transaction

        def opened(*args: Any, **kwargs: Any) -> Any:
            sent.append(kwargs)
            return transaction(*args, **kwargs)

        monkeypatch.setattr(store, "transaction", opened)
    return sent


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

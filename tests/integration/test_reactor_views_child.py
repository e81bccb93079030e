"""A running reactor's views caught up by a child process (``reactor_views.py``).

The child projects each batch of escalations while the reactor fires the next; a pass
ends with every view at the log's head, as a reactor without a child leaves them.
A child that is gone (SIGKILLed) costs nothing but time: the reactor catches the
views up itself, and each timer still escalates once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_views import assert_views_match_fold
from waiting import eventually

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import BATCH, Reactor
from handoff_ledger.adapters.services.reactor_views import ALL_FROM, ViewsAlongside
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import us

HANDOFF = str(Path(sys.executable).parent / "handoff")

DUE = BATCH + 150
"""Timers falling due at once: two batches, so the child is nudged mid-round."""


@pytest.fixture
def pg_ledger(pg_url: str, clock: SimulatedClock) -> Iterator[Ledger]:
    ledger = open_ledger(pg_url, clock=clock)
    yield ledger
    ledger.close()


@pytest.fixture
def reactor(pg_ledger: Ledger) -> Iterator[Reactor]:
    engine = Reactor(pg_ledger, views_in_child=True)
    yield engine
    engine.close()
    assert engine.alongside is not None
    assert engine.alongside.follower.child.exitcode is not None, "the child outlived close()"


def send_due(ledger: Ledger, count: int) -> list[str]:
    """``count`` handoffs whose ack timers fall due within a minute."""
    return [
        str(
            ledger.send(
                sender="inbox_monitor", to=f"agent_{n % 7}",
                ack_within=timedelta(minutes=1), escalate_to=["human:me"],
            ).handoff.id
        )
        for n in range(count)
    ]  # fmt: skip


def catch_ups_here(reactor: Reactor) -> list[int]:
    """What each catch-up of all the views in this process applied, from now on (the
    reactor's fallback when the child cannot serve)."""
    return counted_catch_ups(reactor.views.runner)


def counted_catch_ups(runner: Any) -> list[int]:
    """What each catch-up by ``runner`` (a ``ViewRunner``) applied, from now on."""
    applied: list[int] = []
    catch_up = runner.catch_up

    def counted(**how: Any) -> int:
        applied.append(catch_up(**how))
        return applied[-1]

    runner.catch_up = counted
    return applied


def assert_views_current_after_pass(
    ledger: Ledger, clock: SimulatedClock, reactor: Reactor, ids: list[str]
) -> None:
    """Right as a pass returns: every view at the log's head, equal to a fold of it,
    the escalations of ``ids`` broadcast, and nothing due any more."""
    head = ledger.head()
    assert set(reactor.views.store.positions(
        [reactor.views.runner.tracking_name(p) for p in reactor.views.projections]
    ).values()) == {head}  # fmt: skip
    assert_views_match_fold(ledger, reactor.views)
    assert escalated_in_feed(reactor, "human:me") == set(ids)
    assert reactor.views.read.due_steps(us(clock.now()) or 0, limit=10) == []


def escalated_in_feed(reactor: Reactor, agent: str) -> set[str]:
    rows = reactor.views.read.notifications(agent, limit=10**6)
    return {row["handoff_id"] for row in rows if row["type"] == "Escalated"}


@pytest.mark.postgres
def test_a_running_reactors_escalations_are_in_the_views_when_its_pass_ends(
    pg_ledger: Ledger, clock: SimulatedClock, reactor: Reactor
) -> None:
    alongside = reactor.alongside
    assert isinstance(alongside, ViewsAlongside), "PostgreSQL: the views go to a child"
    ids = send_due(pg_ledger, DUE)
    # What this process applies itself: only the views kept here, never the child's.
    applied_here = catch_ups_here(reactor)
    kept_here = counted_catch_ups(alongside.here.runner)
    nudges: list[int] = []
    nudge = alongside.nudge
    alongside.nudge = lambda: (nudges.append(1), nudge())[1]  # type: ignore[method-assign]
    clock.advance(timedelta(minutes=2))

    report = reactor.run_once()

    assert sorted(str(step.handoff_id) for step in report.steps) == sorted(ids)
    assert len(nudges) == 2, "one nudge per batch saved"
    assert applied_here == [], "the reactor fell back to catching up itself"
    # A short round (fewer than ALL_FROM batches): the timers view was projected here.
    assert sum(kept_here) >= len(ids)
    assert_views_current_after_pass(pg_ledger, clock, reactor, ids)
    # The child served the catch-ups: the views kept here are the timers view alone.
    assert [p.name for p in alongside.here.projections] == ["timers"]
    assert alongside.follower.starts == 1


@pytest.mark.postgres
def test_in_a_long_round_the_child_catches_up_every_view_and_the_reactor_only_waits(
    pg_ledger: Ledger, clock: SimulatedClock, reactor: Reactor
) -> None:
    alongside = reactor.alongside
    assert isinstance(alongside, ViewsAlongside)
    ids = send_due(pg_ledger, BATCH * ALL_FROM + 50)  # ALL_FROM + 1 batches in one round
    reactor.views.catch_up()  # the sends projected: what follows is the pass's own
    applied_here = catch_ups_here(reactor)
    kept_here = counted_catch_ups(alongside.here.runner)
    clock.advance(timedelta(minutes=2))

    report = reactor.run_once()

    assert sorted(str(step.handoff_id) for step in report.steps) == sorted(ids)
    assert applied_here == [], "the reactor fell back to catching up itself"
    assert sum(kept_here) == 0, "the reactor projected the long round into its timers view"
    assert_views_current_after_pass(pg_ledger, clock, reactor, ids)


@pytest.mark.postgres
def test_a_reactor_whose_views_child_was_killed_catches_up_itself_and_escalates_once(
    pg_ledger: Ledger, clock: SimulatedClock, reactor: Reactor
) -> None:
    alongside = reactor.alongside
    assert alongside is not None
    first = send_due(pg_ledger, 5)
    clock.advance(timedelta(minutes=2))
    assert len(reactor.run_once().steps) == 5  # the child serves this pass
    child = alongside.follower.child
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    later = send_due(pg_ledger, DUE)
    clock.advance(timedelta(minutes=2))

    report = reactor.run_once()  # the child is gone: this process catches up

    assert sorted(str(step.handoff_id) for step in report.steps) == sorted(later)
    assert_views_match_fold(pg_ledger, reactor.views)
    assert escalated_in_feed(reactor, "human:me") == set(first) | set(later)
    escalations = [
        e.event.originator_id
        for e in pg_ledger.read_log()
        if isinstance(e.event, Handoff.Escalated)
    ]
    assert len(escalations) == len(set(escalations)) == len(first) + len(later)
    # Its supervisor starts another, which serves the passes after.
    assert eventually(
        lambda: alongside.follower.starts == 2 and alongside.follower.child.is_alive()
    )
    more = send_due(pg_ledger, 3)
    clock.advance(timedelta(minutes=2))
    applied_here = catch_ups_here(reactor)
    assert len(reactor.run_once().steps) == 3
    assert applied_here == []
    assert escalated_in_feed(reactor, "human:me") == set(first) | set(later) | set(more)


def test_a_reactor_on_sqlite_keeps_its_views_in_its_own_process(
    sqlite_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(sqlite_url, clock=clock)
    engine = Reactor(ledger, views_in_child=True)
    try:
        assert engine.alongside is None
        ids = send_due(ledger, 3)
        clock.advance(timedelta(minutes=2))
        assert len(engine.run_once().steps) == 3
        assert escalated_in_feed(engine, "human:me") == set(ids)
    finally:
        engine.close()
        ledger.close()


def children_of(pid: int) -> list[str]:
    """The command lines of ``pid``'s child processes (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(cmdline)
    return found


@pytest.mark.postgres
@pytest.mark.parametrize("views_here", [False, True])
def test_handoff_reactor_runs_its_views_child_unless_told_to_keep_them_here(
    pg_url: str, tmp_path: Path, views_here: bool
) -> None:
    args = [HANDOFF, "reactor", "--interval", "0.05", *(["--views-here"] if views_here else [])]
    errors = tmp_path / "reactor.err"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            args, env={**os.environ, "HANDOFF_DB": pg_url}, stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip
    try:
        assert eventually(lambda: "reactor: running" in errors.read_text()), errors.read_text()
        spawned = lambda: [c for c in children_of(process.pid) if "multiprocessing.spawn" in c]  # noqa: E731
        if views_here:
            time.sleep(1.0)  # a child, had one been started, would be there by now
            assert spawned() == []
        else:
            assert eventually(lambda: len(spawned()) == 1), children_of(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, errors.read_text()
    assert children_of(process.pid) == []

"""Reactor: idle pass cost, 1,000 steps due at once, and 10,000 after downtime,
with the reactor in batches (issue 25 item 2) and as it was before, in one run.

One store holds ``--open`` open handoffs (requested, ack timers armed; 100,000 by
default). For each round and each side (``on``: today's reactor as ``handoff reactor``
runs it, its views caught up by a child process while it fires (PostgreSQL; on SQLite
the same as ``here``); ``here``: today's reactor with its views caught up in its own
process, as ``reactor --once`` and ``serve --with-reactor`` run it; ``off``: the loop
of 8389cab, kept below as :class:`BeforeBatches`: one load per step, the views caught
up after every 500 steps, follow-ups read from every log entry), one group of 1,000
handoffs and one of 10,000 fall due at times of their own; the rest fall due a month
later, so they are armed but never due. The sides alternate which goes first, round
by round. Measured on a simulated clock, both sides sharing one ledger:

1. idle passes (nothing due): ``Reactor.run_once()``, the sides alternating pass by
   pass, median and p99, against a ``SELECT 1`` round trip on the same store; every
   tenth also writes the pass figures (``hl_reactor_passes``) held since the last
   write, as a reactor passing once a second does (``reactor_passes.WRITE_EVERY``);
2. burst: one ``run_once()`` a second after 1,000 fell due;
3. downtime: one ``run_once()`` an hour after 10,000 fell due.

A pass is reported whole (what ``handoff reactor`` does: its views catch up on its
own escalations, so their broadcasts go out in the same pass) and without the time
its views catch-ups took (the reactor's own work: reading due steps, loading,
deciding, saving, follow-ups, deliveries; with the views in a child, "views" is the
time this process waited for the child).

    .venv/bin/python bench/reactor.py [--open 100000] [--stores postgresql,sqlite]
        [--rounds 2] [--batch on,here,off]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from common import AGENTS, scratch_store

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import (
    BATCH,
    FOLLOW_UP_TRACKING,
    MAX_ROUNDS,
    REACTOR,
    PassReport,
    Reactor,
    due_step,
)
from handoff_ledger.adapters.services.reactor_passes import WRITE_EVERY
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import us

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BURST, DOWNTIME = 1_000, 10_000
IDLE_PASSES = 200
REST_DUE = timedelta(days=30)
"""When the handoffs of no group fall due: after every group's pass (three sides, two
rounds: the last group's pass is a day after T0)."""


class BeforeBatches(Reactor):
    """The reactor's timer and follow-up loops as they were at 8389cab (the baseline)."""

    def fire_due_timers(self, report: PassReport) -> None:
        for _ in range(MAX_ROUNDS):
            now = self.ledger.clock.now()
            rows = self.views.read.due_steps(us(now) or 0, limit=BATCH)
            if not rows:
                return
            fired = 0
            # No ``loaded=``: the ledger loads each step's handoff on its own.
            for outcome in self.ledger.fire_escalations([due_step(r) for r in rows], by=REACTOR):
                if outcome.handoff is None:
                    report.skipped += 1
                    continue
                fired += 1
                report.escalated.append((str(outcome.step.handoff_id), outcome.step.reason.value))
                report.steps.append(outcome.step)
            self.catch_up_views()
            if not fired:
                return

    def route_follow_ups(self, report: PassReport) -> None:
        store = self.views.store
        while True:
            position = store.positions([FOLLOW_UP_TRACKING])[FOLLOW_UP_TRACKING]
            page = list(self.ledger.read_log(after=position, limit=BATCH))
            if not page:
                return
            for entry in page:
                event = entry.event
                if isinstance(event, Handoff.Completed | Handoff.Declined | Handoff.Failed):
                    created = self._follow_up(event)
                    if created is not None:
                        report.follow_ups.append(created)
            with store.transaction() as cursor:
                store.record_position(cursor, FOLLOW_UP_TRACKING, position, page[-1].position)


class Timed:
    """A reactor whose views catch-ups are timed (to tell the reactor's own work apart):
    with the views in a child, the time this process waits for the child."""

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self.views_seconds = 0.0
        catch_up: Callable[..., None] = reactor.catch_up_views

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return catch_up(*args, **kwargs)
            finally:
                self.views_seconds += time.perf_counter() - began

        reactor.catch_up_views = timed  # type: ignore[method-assign]

    def run(self) -> tuple[PassReport, float, float]:
        """One pass: its report, its wall time and its views catch-ups' time."""
        self.views_seconds = 0.0
        began = time.perf_counter()
        report = self.reactor.run_once()
        return report, time.perf_counter() - began, self.views_seconds


SIDES: dict[str, Callable[[Ledger], Reactor]] = {
    "on": lambda ledger: Reactor(ledger, views_in_child=True),  # as `handoff reactor` runs
    "here": Reactor,  # `reactor --once`, `serve --with-reactor`: views in this process
    "off": BeforeBatches,
}


def plan(total: int, rounds: int, sides: list[str]) -> list[tuple[str, str, int, timedelta]]:
    """(kind, side, size, due after T0) of each measured group, in the order measured."""
    orders = [sides if r % 2 == 0 else list(reversed(sides)) for r in range(rounds)]
    groups = []
    due = timedelta(hours=1)
    for kind, size in (("burst", BURST), ("downtime", DOWNTIME)):
        for order in orders:
            for side in order:
                groups.append((kind, side, size, due))
                due += timedelta(hours=2)
    assert sum(g[2] for g in groups) <= total, "--open is too small for these groups"
    assert due < REST_DUE, "too many groups: the rest would fall due among them"
    return groups


def fill_open(ledger: Ledger, total: int, dues: list[tuple[int, timedelta]]) -> None:
    """``total`` open handoffs: each group's ack timers due at its time, the rest a month
    later; saved 500 per transaction."""
    withins = [within for size, within in dues for _ in range(size)]
    withins += [REST_DUE] * (total - len(withins))
    pending: list[Handoff] = []
    for n, within in enumerate(withins):
        receiver = AGENTS[n % len(AGENTS)]
        handoff = Handoff.request(
            now=T0, sender="inbox_monitor", receiver=receiver, ack_within=within,
            escalate_to=["human:me"], payload={"n": n},
        )  # fmt: skip
        pending.append(handoff)
        if len(pending) == 500:
            ledger.save(*pending)
            pending = []
    if pending:
        ledger.save(*pending)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(backend: str, total: int, rounds: int, sides: list[str]) -> None:
    groups = plan(total, rounds, sides)
    with scratch_store(backend) as url:
        clock = SimulatedClock(T0)
        ledger = open_ledger(url, clock=clock)
        try:
            began = time.perf_counter()
            fill_open(ledger, total, [(size, due) for _, _, size, due in groups])
            reactors = {side: Timed(SIDES[side](ledger)) for side in sides}
            reactors[sides[0]].reactor.views.catch_up()
            print(
                f"{backend}: {total:,} open handoffs written and projected in "
                f"{time.perf_counter() - began:.1f} s"
            )

            # 1. idle passes, the sides alternating
            clock.set(T0 + timedelta(minutes=30))
            idle: dict[str, list[float]] = {side: [] for side in sides}
            for timed in reactors.values():
                timed.run()
            for number in range(IDLE_PASSES):
                for side, timed in reactors.items():
                    # As at one pass a second (the default --interval): every tenth idle
                    # pass writes the ones before it (reactor_passes.WRITE_EVERY, 10 s).
                    passes = timed.reactor.passes
                    passes.write_every = 0.0 if number % 10 == 9 else WRITE_EVERY
                    report, seconds, _ = timed.run()
                    assert not report.steps
                    idle[side].append(seconds * 1000)
            store: Any = reactors[sides[0]].reactor.views.store
            ping = []
            for _ in range(IDLE_PASSES):
                start = time.perf_counter()
                store.query("SELECT 1 AS one")
                ping.append((time.perf_counter() - start) * 1000)
            for side in sides:
                print(
                    f"  idle pass, batch {side}: median {statistics.median(idle[side]):.2f} ms, "
                    f"p99 {percentile(idle[side], 0.99):.2f} ms"
                )
            print(f"  SELECT 1 round trip: median {statistics.median(ping):.3f} ms")

            # 2. and 3. each group, a second (burst) or an hour (downtime) after it fell due
            for kind, side, size, due in groups:
                clock.set(
                    T0 + due + (timedelta(seconds=1) if kind == "burst" else timedelta(hours=1))
                )
                report, seconds, views = reactors[side].run()
                assert len(report.steps) == size, (kind, side, len(report.steps))
                print(
                    f"  {kind} {size:,}, batch {side}: pass {seconds:.2f} s ({size / seconds:,.0f}/s); "
                    f"without its views catch-ups {seconds - views:.2f} s (views {views:.2f} s)"
                )
            for timed in reactors.values():
                timed.reactor.close()
        finally:
            ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--stores", default="postgresql,sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--batch", default="on,here,off", help="sides to measure, of on, here and off"
    )
    args = parser.parse_args()
    sides = args.batch.split(",")
    if not set(sides) <= set(SIDES) or not sides:
        parser.error(f"--batch: {args.batch!r}: give some of on, here, off")
    for backend in args.stores.split(","):
        measure(backend, args.open, args.rounds, sides)


if __name__ == "__main__":
    main()

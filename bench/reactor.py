"""Reactor: idle pass cost, a burst of 1,000 due timers, and 10,000 after downtime.

One store holds 100,000 open handoffs (requested, ack timers armed):

- group A: 1,000 whose ack falls due at +1 h;
- group B: 1,000 due at +2 h (the baseline: escalated one handoff at a time through
  ``Ledger.fire_escalation``, the path a naive reactor would take);
- group C: 10,000 due at +3 h;
- the other 88,000 due a day later, so they are armed but never due.

Measured, in this order, on a simulated clock:

1. idle pass (+30 min, nothing due): median and p99 of ``Reactor.run_once()``,
   against a ``SELECT 1`` round trip on the same store;
2. burst (+1 h): one ``run_once()`` that escalates group A, wall time; the baseline
   is group B escalated one by one at +2 h (ratio = burst / baseline);
3. downtime (+9 h: "six hours offline" after group C fell due): one ``run_once()``
   that escalates all of group C.

    .venv/bin/python bench/reactor.py [--open 100000] [--stores postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import AGENTS, scratch_store

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.timers import EscalationReason

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BURST, BASELINE, DOWNTIME = 1_000, 1_000, 10_000


def fill_open(ledger: Ledger, total: int) -> dict[str, list[Handoff]]:
    """``total`` open handoffs in the groups above, saved 500 per transaction."""
    groups: dict[str, list[Handoff]] = {"A": [], "B": [], "C": [], "rest": []}
    pending: list[Handoff] = []
    for n in range(total):
        if n < BURST:
            group, within = "A", timedelta(hours=1)
        elif n < BURST + BASELINE:
            group, within = "B", timedelta(hours=2)
        elif n < BURST + BASELINE + DOWNTIME:
            group, within = "C", timedelta(hours=3)
        else:
            group, within = "rest", timedelta(days=1)
        handoff = Handoff.request(
            now=T0, sender="inbox_monitor", receiver=AGENTS[n % len(AGENTS)],
            ack_within=within, escalate_to=["human:me"], payload={"n": n},
        )  # fmt: skip
        groups[group].append(handoff)
        pending.append(handoff)
        if len(pending) == 500:
            ledger.save(*pending)
            pending = []
    if pending:
        ledger.save(*pending)
    return groups


def ping_ms(ledger: Ledger, views_store: object, count: int = 200) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        views_store.query("SELECT 1 AS one")  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(backend: str, total: int) -> None:
    with scratch_store(backend) as url:
        clock = SimulatedClock(T0)
        ledger = open_ledger(url, clock=clock)
        try:
            start = time.perf_counter()
            groups = fill_open(ledger, total)
            reactor = Reactor(ledger)
            reactor.views.catch_up()
            setup = time.perf_counter() - start
            print(f"{backend}: {total:,} open handoffs written and projected in {setup:.1f} s")

            # 1. idle passes
            clock.set(T0 + timedelta(minutes=30))
            reactor.run_once()
            idle = []
            for _ in range(200):
                began = time.perf_counter()
                report = reactor.run_once()
                idle.append((time.perf_counter() - began) * 1000)
                assert not report.steps
            ping = ping_ms(ledger, reactor.views.store)
            print(
                f"  idle pass: median {statistics.median(idle):.2f} ms, p99 "
                f"{percentile(idle, 0.99):.2f} ms (SELECT 1 round trip: median "
                f"{statistics.median(ping):.3f} ms; ratio {statistics.median(idle) / statistics.median(ping):.1f}x)"
            )

            # 2. a burst of 1,000 due at once
            clock.set(T0 + timedelta(hours=1, seconds=1))
            began = time.perf_counter()
            report = reactor.run_once()
            burst = time.perf_counter() - began
            assert len(report.steps) == BURST, len(report.steps)
            clock.set(T0 + timedelta(hours=2, seconds=1))
            began = time.perf_counter()
            for handoff in groups["B"]:
                ledger.fire_escalation(
                    handoff.id, by="reactor", reason=EscalationReason.ACK_TIMEOUT,
                    timer_due=T0 + timedelta(hours=2), level=1,
                )  # fmt: skip
            one_by_one = time.perf_counter() - began
            assert not reactor.run_once().steps  # the reactor finds B already done
            print(
                f"  burst: {BURST:,} due escalated in {burst:.2f} s by one pass "
                f"({BURST / burst:,.0f}/s); one at a time: {one_by_one:.2f} s "
                f"({BASELINE / one_by_one:,.0f}/s); ratio {burst / one_by_one:.2f}"
            )

            # 3. back after downtime with 10,000 due
            clock.set(T0 + timedelta(hours=9))
            began = time.perf_counter()
            report = reactor.run_once()
            downtime = time.perf_counter() - began
            assert len(report.steps) == DOWNTIME, len(report.steps)
            print(
                f"  downtime: {DOWNTIME:,} due escalated in {downtime:.2f} s by one pass "
                f"({DOWNTIME / downtime:,.0f}/s; one-at-a-time rate would take "
                f"{DOWNTIME * one_by_one / BASELINE:.1f} s)"
            )
            reactor.close()
        finally:
            ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--stores", default="postgresql,sqlite")
    args = parser.parse_args()
    for backend in args.stores.split(","):
        measure(backend, args.open)


if __name__ == "__main__":
    main()

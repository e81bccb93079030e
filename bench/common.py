"""Shared by the benchmarks: stores to measure on, and a fast way to fill a log."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status

PG_BASE = os.environ.get("HANDOFF_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
"""The PostgreSQL server the benchmarks make their scratch schemas on; another
(a server with other settings, say) through ``HANDOFF_BENCH_PG``."""
AGENTS = [f"agent_{n:03d}" for n in range(100)]


@contextmanager
def scratch_store(backend: str) -> Iterator[str]:
    """A new, empty store URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="handoff-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{PG_BASE}?schema={schema}&pool_size=4"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def fill(
    ledger: Ledger, handoffs: int, *, open_share: float = 0.3, start: datetime | None = None
) -> int:
    """Record ``handoffs`` handoffs through varied lifecycles; returns the events written.

    Saved 500 aggregates per transaction (the fast path); about 3.4 events per handoff.
    ``open_share`` of them stay open (requested, acked or in progress).
    """
    clock = SimulatedClock(start or datetime(2026, 11, 25, tzinfo=UTC))
    pending: list[Handoff] = []
    events = 0
    priorities = list(Priority)
    closing = int(1 / max(1e-9, 1 - open_share))
    for n in range(handoffs):
        clock.advance(timedelta(seconds=1))
        now = clock.now()
        receiver = AGENTS[n % len(AGENTS)]
        handoff = Handoff.request(
            now=now, sender=AGENTS[(n * 7 + 1) % len(AGENTS)], receiver=receiver,
            priority=priorities[n % 4], ack_within=timedelta(hours=1),
            deadline_within=timedelta(hours=4), escalate_to=["human:me"],
            payload={"n": n, "email_id": f"msg_{n}"},
        )  # fmt: skip
        handoff.ack(by=receiver, now=now + timedelta(seconds=1), next_update=timedelta(minutes=30))
        handoff.report_status(by=receiver, now=now + timedelta(seconds=2), status=Status.WORKING)
        if n % 10 < 10 - int(open_share * 10) and closing:
            handoff.complete(by=receiver, now=now + timedelta(seconds=3), result={"ok": n})
        pending.append(handoff)
        if len(pending) == 500:
            events += sum(len(h.pending_events) for h in pending)
            ledger.save(*pending)
            pending = []
    if pending:
        events += sum(len(h.pending_events) for h in pending)
        ledger.save(*pending)
    return events

"""How long an as-of answer takes on a 100,000-event log (issue 6: "seconds, not minutes").

A fresh store is filled with ~100,000 events (about 29,500 handoffs through varied
lifecycles, one second apart). Then, in this process, each measured ``--rounds``
times (median):

- baseline: reading and decoding the whole log through the library
  (``select_notifications`` + the mapper), the least any answer folded from the
  log must do;
- ``replay --until`` the log's midpoint and its end: every view folded in memory;
- ``inbox AGENT --as-of``, ``overdue --as-of`` and ``trace ID --as-of`` at the
  midpoint, through the same document functions the CLI and HTTP use: the first
  inbox on a store with no replay checkpoints yet (it leaves them), then again (from
  a checkpoint), then at three quarters of the log (from the midpoint's checkpoints
  plus a quarter of the log);
- the same ``inbox --as-of`` as a whole ``handoff`` command (process start included);
- ``audit verify`` of every handoff (each hash chain recomputed from the rows as
  stored), once; the bench stops if it reports a problem.

    .venv/bin/python bench/replay_as_of.py [--stores sqlite,postgresql] [--handoffs 29500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from common import AGENTS, fill, scratch_store

from handoff_ledger.adapters.services.audit import verify_ledger
from handoff_ledger.adapters.services.queries import (
    chain_document,
    inbox_document,
    overdue_document,
)
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS

START = datetime(2026, 11, 25, tzinfo=UTC)
HANDOFF = str(Path(sys.executable).parent / "handoff")


def timed(work: Callable[[], object], rounds: int) -> float:
    """Median seconds of ``work`` over ``rounds`` runs."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def measure(backend: str, handoffs: int, rounds: int) -> dict[str, float]:
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        events = fill(ledger, handoffs, start=START)
        views = Views(ledger)
        views.catch_up()
        middle = START + timedelta(seconds=handoffs // 2)
        late = START + timedelta(seconds=handoffs * 3 // 4)
        end = START + timedelta(seconds=handoffs + 10)
        some_id = UUID(views.read.inbox(AGENTS[7], limit=1)[0]["handoff_id"])

        def read_whole_log() -> None:
            start = 1
            while True:
                page = ledger.recorder.select_notifications(
                    start=start, limit=1000, topics=VIEW_TOPICS
                )
                for notification in page:
                    ledger.mapper.to_domain_event(notification)
                if len(page) < 1000:
                    return
                start = page[-1].id + 1

        figures = {
            "events": float(events),
            "baseline: read + decode the log": timed(read_whole_log, rounds),
            "replay --until (midpoint), all views": timed(lambda: views.replay(middle), rounds),
            "replay --until (end), all views": timed(lambda: views.replay(end), rounds),
            "inbox --as-of (midpoint), first: no checkpoints yet": timed(
                lambda: inbox_document(views, AGENTS[7], 100, middle), 1
            ),
            "inbox --as-of (midpoint), again: from a checkpoint": timed(
                lambda: inbox_document(views, AGENTS[7], 100, middle), rounds
            ),
            "inbox --as-of (3/4), from the midpoint's checkpoints": timed(
                lambda: inbox_document(views, AGENTS[7], 100, late), 1
            ),
            "overdue --as-of (midpoint), from a checkpoint": timed(
                lambda: overdue_document(views, end, middle), rounds
            ),
            "trace --as-of (midpoint)": timed(
                lambda: chain_document(views, some_id, middle), rounds
            ),
        }
        command = [HANDOFF, "inbox", AGENTS[7], "--as-of", middle.isoformat(), "--json"]
        figures["handoff inbox --as-of (whole command)"] = timed(
            lambda: subprocess.run(
                command, check=True, capture_output=True, env={**os.environ, "HANDOFF_DB": url}
            ),
            rounds,
        )

        def verify() -> None:
            report = verify_ledger(ledger)
            if report.problems:
                raise SystemExit(f"audit verify found problems on a clean log: {report.problems}")

        figures["audit verify (every handoff)"] = timed(verify, 1)
        ledger.close()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--handoffs", type=int, default=29_500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for backend in args.stores.split(","):
        figures = measure(backend, args.handoffs, args.rounds)
        baseline = figures["baseline: read + decode the log"]
        print(f"\n{backend}: {int(figures.pop('events')):,} events")
        for name, seconds in figures.items():
            print(f"  {name:<56} {seconds:7.2f} s   {seconds / baseline:5.2f} x baseline")


if __name__ == "__main__":
    main()

"""Catch-up (= rebuild) rate of all five views over a large log, and peak memory.

For each store: fill a fresh log with N events, then, in a separate process so its
peak memory is its own, (1) read and decode the whole log (baseline: the floor any
projection pays), (2) catch every view up from position 0. Prints events/s for
both, their ratio, and the catch-up process's peak RSS.

    .venv/bin/python bench/views_catchup.py --events 1000000 [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from common import fill, scratch_store

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS


def measure(url: str, batch: int, workers: int) -> dict[str, float]:
    """Runs in its own process: the read baseline, then the catch-up."""
    ledger = open_ledger(url)
    start = time.perf_counter()
    count, position = 0, 0
    while True:
        page = ledger.recorder.select_notifications(
            start=position + 1, limit=batch, topics=VIEW_TOPICS
        )
        if not page:
            break
        for notification in page:
            ledger.mapper.to_domain_event(notification)
        count += len(page)
        position = page[-1].id
    read_seconds = time.perf_counter() - start
    views = Views(ledger)
    views.runner.batch_size = batch
    start = time.perf_counter()
    applied = views.catch_up_parallel(workers) if workers > 1 else views.catch_up()
    catch_up_seconds = time.perf_counter() - start
    ledger.close()
    return {
        "events": applied,
        "read_rate": count / read_seconds,
        "catch_up_rate": applied / catch_up_seconds,
        "catch_up_seconds": catch_up_seconds,
        "peak_rss_mb": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="processes sharing the views")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.batch, args.workers)))
        return
    print(
        f"{'store':<11} {'events':>9} {'read+decode/s':>14} {'catch-up/s':>11} {'ratio':>6} {'peak MB':>8}"
    )
    for backend in args.stores.split(","):
        with scratch_store(backend) as url:
            ledger = open_ledger(url)
            started = time.perf_counter()
            written = fill(ledger, int(args.events / 3.7))
            fill_seconds = time.perf_counter() - started
            ledger.close()
            done = subprocess.run(
                [sys.executable, __file__, "--measure", url, "--batch", str(args.batch),
                 "--workers", str(args.workers)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{backend:<11} {int(result['events']):>9} {result['read_rate']:>14.0f} "
                f"{result['catch_up_rate']:>11.0f} {result['catch_up_rate'] / result['read_rate']:>6.2f} "
                f"{result['peak_rss_mb']:>8.0f}   (log of {written} events filled in {fill_seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()

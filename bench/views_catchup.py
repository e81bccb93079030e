"""Catch-up (= rebuild) rate of every view over a large log, and peak memory at two sizes.

For each store: fill a fresh log with the first size of events, then, in a separate
process so its peak memory is its own, (1) read and decode the whole log through the
library (the baseline: the floor any projection pays), (2) catch every view up from
position 0. Then drop the views, fill the log on to the second size, and measure
again in a new process. Prints events/s for both, their ratio, each process's
peak RSS (with its writer process's, the larger), and the RSS ratio of the two sizes.

    .venv/bin/python bench/views_catchup.py --sizes 200000,1000000 [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from common import fill, scratch_store

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.adapters.views.store import live_name
from handoff_ledger.projections.registry import all_projections


def read_and_decode(ledger: Ledger, batch: int) -> int:
    """Read and decode the whole log through the library (the baseline: the floor any
    projection pays); returns how many events."""
    count, position = 0, 0
    while page := ledger.recorder.select_notifications(
        start=position + 1, limit=batch, topics=VIEW_TOPICS
    ):
        for notification in page:
            ledger.mapper.to_domain_event(notification)
        count += len(page)
        position = page[-1].id
    return count


def measure(url: str, batch: int, workers: int) -> dict[str, float]:
    """Runs in its own process: the read baseline, then the catch-up."""
    ledger = open_ledger(url)
    start = time.perf_counter()
    count = read_and_decode(ledger, batch)
    read_seconds = time.perf_counter() - start
    views = Views(ledger)
    views.runner.batch_size = batch
    start = time.perf_counter()
    applied = views.catch_up_parallel(workers)
    catch_up_seconds = time.perf_counter() - start
    ledger.close()
    return {
        "events": applied,
        "read_rate": count / read_seconds,
        "catch_up_rate": applied / catch_up_seconds,
        "catch_up_seconds": catch_up_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "writer_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def drop_views(url: str) -> None:
    """Empty every view and its tracking record: the next catch-up starts at 0."""
    ledger = open_ledger(url)
    views = Views(ledger)
    store = views.store
    empty = "DELETE FROM" if store.dialect.backend == "sqlite" else "TRUNCATE"
    with store.transaction() as cursor:
        for projection in all_projections():
            for spec in projection.tables:
                cursor.execute(f"{empty} {store.dialect.table(live_name(spec))}")
        cursor.execute(f"DELETE FROM {store.tracking_table}")
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000", help="log sizes, ascending")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="2: a writer process (1: a thread)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.batch, args.workers)))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"{'store':<11} {'events':>9} {'read+decode/s':>14} {'catch-up/s':>11} {'ratio':>6} "
        f"{'peak MB':>8} {'writer MB':>10}"
    )
    for backend in args.stores.split(","):
        peaks = []
        with scratch_store(backend) as url:
            written = 0
            for size in sizes:
                ledger = open_ledger(url)
                started = time.perf_counter()
                written += fill(ledger, int((size - written) / 3.7))
                fill_seconds = time.perf_counter() - started
                ledger.close()
                drop_views(url)
                done = subprocess.run(
                    [sys.executable, __file__, "--measure", url, "--batch", str(args.batch),
                     "--workers", str(args.workers)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    raise SystemExit(f"the measuring process failed:\n{done.stderr}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                peaks.append(result["peak_rss_mb"])
                print(
                    f"{backend:<11} {int(result['events']):>9} {result['read_rate']:>14.0f} "
                    f"{result['catch_up_rate']:>11.0f} "
                    f"{result['catch_up_rate'] / result['read_rate']:>6.2f} "
                    f"{result['peak_rss_mb']:>8.0f} {result['writer_rss_mb']:>10.0f}   "
                    f"(log filled to {written} events, {fill_seconds:.0f} s)",
                    flush=True,
                )
        if len(peaks) > 1:
            print(
                f"{backend:<11} peak RSS {sizes[-1]} / {sizes[0]} events: {peaks[-1] / peaks[0]:.3f}"
            )


if __name__ == "__main__":
    main()

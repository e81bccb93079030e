"""Read-side query latency with 100,000 open handoffs: inbox, queue position, overdue.

Fills a store with 100,000 open handoffs over 100 agents (1,000 per queue), catches
the views up, then times each query many times in-process. Baseline in the same
run: loading one handoff aggregate by id (an indexed read of its events).

    .venv/bin/python bench/views_queries.py [--open 100000] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from uuid import UUID

from common import AGENTS, fill, scratch_store

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.projections.timers import TIMERS


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed(run: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_store(backend: str, open_handoffs: int, count: int) -> None:
    """Fill one store, then time each query; prints one line per query."""
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        fill(ledger, open_handoffs, open_share=1.0)
        views = Views(ledger)
        views.catch_up_parallel()
        ids = [row["handoff_id"] for row in views.read.inbox(AGENTS[0])]
        sample_ids = random.Random(7).sample(ids, 100)
        uuids = [UUID(i) for i in sample_ids]
        # A realistic moment: the first 100 promises (of 200,000 armed timers) are broken.
        first_dues = views.store.query(
            f"SELECT due_us FROM {views.store.table(TIMERS)} ORDER BY due_us LIMIT 100"
        )
        overdue_at = first_dues[-1]["due_us"]
        due_now = len(views.read.overdue(overdue_at))
        rng = random.Random(11)
        baseline = timed(lambda: ledger.get(rng.choice(uuids)), count)
        results = {
            "baseline: get(handoff)": baseline,
            "inbox (first 100 of 1,000)": timed(
                lambda: views.read.inbox(rng.choice(AGENTS), limit=100), count
            ),
            "inbox (all 1,000)": timed(lambda: views.read.inbox(rng.choice(AGENTS)), count // 10),
            "queue_position": timed(
                lambda: views.read.queue_position(rng.choice(sample_ids)), count
            ),
            f"overdue ({due_now} due)": timed(lambda: views.read.overdue(overdue_at), count),
        }
        base99 = percentile(baseline, 0.99)
        for name, samples in results.items():
            p50, p99 = statistics.median(samples), percentile(samples, 0.99)
            print(f"{backend:<11} {name:<26} {p50:>7.2f} {p99:>7.2f} {p99 / base99:>19.2f}")
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'store':<11} {'query':<26} {'p50 ms':>7} {'p99 ms':>7} {'p99 / baseline p99':>19}")
    for backend in args.stores.split(","):
        measure_store(backend, args.open, args.count)


if __name__ == "__main__":
    main()

"""What one ``/metrics`` scrape costs on a log of realistic size (docs/performance.md).

Fills a store with 10,000 handoffs over 100 declared agents (about 30 % left open),
lets a reactor pass escalate every promise broken by then, catches the views up,
then times ``generate_latest`` over the ledger's collector in-process: the first
scrape of a process (which also folds every ``Escalated`` event of the log) and
then ``--scrapes`` more (median and 90th percentile). Prints the series count and
the size of the answer too. Nothing is timed per lifecycle: metrics cost nothing
until scraped.

    .venv/bin/python bench/metrics_scrape.py [--handoffs 10000] [--scrapes 21] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import AGENTS, fill, scratch_store
from prometheus_client import CollectorRegistry, generate_latest

from handoff_ledger.adapters.services.metrics import LedgerCollector
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views


def measure_store(backend: str, handoffs: int, scrapes: int) -> None:
    """Fill one store, then time its scrapes; prints one line."""
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        declared = "".join(f"[agents.{a}]\n" for a in AGENTS) + '[agents."human:me"]\n'
        ledger.apply_protocol(declared, source="bench.toml", by="human:me")
        fill(ledger, handoffs)
        views = Views(ledger)
        views.catch_up_parallel()
        reactor = Reactor(ledger, views)
        reactor.run_once()  # the fill's timers are long past: every broken promise escalates
        reactor.close()
        views.catch_up()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LedgerCollector(ledger, views))
        started = time.perf_counter()
        text = generate_latest(registry)
        first = (time.perf_counter() - started) * 1000
        samples = []
        for _ in range(scrapes):
            started = time.perf_counter()
            generate_latest(registry)
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        series = sum(1 for line in text.decode().splitlines() if not line.startswith("#"))
        print(
            f"{backend:10} {handoffs:,} handoffs, {ledger.head():,} events: first scrape "
            f"{first:.0f} ms; then median {statistics.median(samples):.0f} ms, "
            f"p90 {samples[int(0.9 * len(samples))]:.0f} ms; {series:,} series, "
            f"{len(text) / 1024:.0f} KiB"
        )
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=21)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.stores.split(","):
        measure_store(backend, args.handoffs, args.scrapes)


if __name__ == "__main__":
    main()

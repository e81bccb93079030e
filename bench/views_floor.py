"""The floor under the views' catch-up: what each part costs per event, and the best
rate those costs allow on this machine's cores.

For each store: fill a fresh log, then in a separate process measure, in rounds
(each round every measure once, in turn):

- **library read + decode**: the library's ``select_notifications`` and
  ``to_domain_event`` over the whole log: the baseline ``bench/views_catchup.py``
  divides by (the target asks the catch-up for at least half its rate);
- **read**, **read + decode**: the runner's own reads of the log and its lean decoder;
- **fold in memory**: read, decode and apply every event to every view's projection
  in memory (``MemoryViews``, the projection code the live views run), no SQL, with
  the garbage collector paused as the runner does;
- **catch-up**: every view from position 0 with a writer process (as
  ``bench/views_catchup.py``), its wall time, this process's CPU and the writer's.

From these, this design's floor on SQLite, where all the work is in these processes:
the CPU the catch-up spends per event (the preparing process's and the writer's; the
writer's includes its interpreter's start), spread perfectly over ``os.cpu_count()``
cores. Any split of the same work between processes costs at least that much wall
time. Printed beside the target's rate. (On PostgreSQL the server's work is not in
these processes' CPU, so no floor is printed.) The fold in memory is printed as the
projections' own share: it is not part of the floor's sum.

    PYTHONPATH=bench .venv/bin/python bench/views_floor.py [--events 200000]
        [--stores sqlite,postgresql] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from common import fill, scratch_store
from views_catchup import drop_views, read_and_decode

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.adapters.views.runner import VIEW_TOPICS, gc_paused
from handoff_ledger.projections.fold import MemoryViews
from handoff_ledger.projections.registry import all_projections

PAGE = 5000


def _library(url: str) -> int:
    ledger = open_ledger(url)
    count = read_and_decode(ledger, PAGE)
    ledger.close()
    return count


def _lean(url: str, decode: bool, fold: bool) -> int:
    ledger = open_ledger(url)
    store = Views(ledger).store
    decoder = EventDecoder(ledger.mapper).decode_entry
    memory = MemoryViews(all_projections())
    count, start = 0, 0
    with gc_paused():
        while True:
            with store.transaction(commit=False) as cursor:
                page = store.read_log(cursor, start, PAGE, VIEW_TOPICS)
            if decode:
                for position, topic, originator_id, version, state in page:
                    event = decoder(topic, originator_id, version, state)
                    if fold:
                        memory.apply(event, position)
            count += len(page)
            if len(page) < PAGE:
                break
            start = page[-1][0]
    ledger.close()
    return count


def _catch_up(url: str) -> tuple[int, float, float, float]:
    """Events applied, wall seconds, this process's CPU seconds and the writer process's
    (reaped by the time ``catch_up_parallel`` returns: its ``close`` joins it)."""
    drop_views(url)
    ledger = open_ledger(url)
    views = Views(ledger)
    views.runner.batch_size = PAGE
    before = os.times()
    start = time.perf_counter()
    applied = views.catch_up_parallel(2)
    wall = time.perf_counter() - start
    after = os.times()
    ledger.close()
    own = after.user - before.user + after.system - before.system
    writer = (
        after.children_user - before.children_user + after.children_system - before.children_system
    )
    return applied, wall, own, writer


def measure(url: str, rounds: int) -> dict[str, list[float]]:
    """Runs in its own process: every measure once per round, µs per event."""
    results: dict[str, list[float]] = {}

    def timed(name: str, run: Callable[[], int]) -> None:
        start = time.perf_counter()
        count = run()
        results.setdefault(name, []).append((time.perf_counter() - start) / count * 1e6)

    for _ in range(rounds):
        timed("library read + decode", lambda: _library(url))
        timed("read", lambda: _lean(url, decode=False, fold=False))
        timed("read + decode", lambda: _lean(url, decode=True, fold=False))
        timed("fold in memory", lambda: _lean(url, decode=True, fold=True))
        applied, wall, own, writer = _catch_up(url)
        results.setdefault("catch-up", []).append(wall / applied * 1e6)
        results.setdefault("catch-up: its own CPU", []).append(own / applied * 1e6)
        results.setdefault("catch-up: writer's CPU", []).append(writer / applied * 1e6)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--stores", default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.rounds)))
        return
    cores = os.cpu_count() or 1
    for backend in args.stores.split(","):
        with scratch_store(backend) as url:
            ledger = open_ledger(url)
            written = fill(ledger, int(args.events / 3.7))
            ledger.close()
            done = subprocess.run(
                [sys.executable, __file__, "--measure", url, "--rounds", str(args.rounds)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"the measuring process failed:\n{done.stderr}")
            results = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{backend}: {written:,} events, µs per event (median of {args.rounds} rounds: each)")
        for name, values in results.items():
            each = ", ".join(f"{v:.1f}" for v in values)
            print(f"  {name:<24} {statistics.median(values):7.1f}   ({each})")
        library = statistics.median(results["library read + decode"])
        own = statistics.median(results["catch-up: its own CPU"])
        writer = statistics.median(results["catch-up: writer's CPU"])
        catch_up = statistics.median(results["catch-up"])
        print(
            f"  target: catch-up at ≥ 0.5 of the library's rate, ≤ {2 * library:.1f} µs per event\n"
            f"  now: {catch_up:.1f} µs per event, {library / catch_up:.2f} of the library's rate"
        )
        if backend == "sqlite":
            best = (own + writer) / cores
            print(
                f"  floor on {cores} cores, (own CPU + writer's CPU) / cores: ≥ {best:.1f} µs "
                f"per event, ≤ {library / best:.2f} of the library's rate"
            )


if __name__ == "__main__":
    main()

"""Many ledger writers on one PostgreSQL store vs the same writers on separate schemas.

N writer processes each run full lifecycles (``Ledger.send``, ``ack``, ``complete``:
three saves) as fast as they can, released together through a barrier:

- shared:   all N on one store (one events table);
- separate: each on a schema of its own (N events tables: nothing to contend on,
            the ceiling this machine sets with its CPU).

The two layouts alternate within each round (the order flipped every round), so
noise on the shared machine falls on both. Prints, per N, lifecycles/s for each
layout (medians over the rounds), the median of the rounds' shared/separate ratios
with their range (target >= 0.8 at 8 writers, issue 24), and the writers' CPU ms per
lifecycle (their own processes only; PostgreSQL's CPU is not in it).

``--proxy-ms D`` puts a loopback TCP proxy between every writer and PostgreSQL that
delays each chunk D ms in each direction (writers on other hosts, simulated), and
also reports N shared writers against one writer through it (target >= 4x at 8).

    .venv/bin/python bench/writers.py [--writers 1,2,4,8,16] [--rounds 3] [--seconds 4]
        [--proxy-ms 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Barrier

import psycopg
from proxy import DelayProxy

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
PAYLOAD = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


def _url(schema: str, port: int) -> str:
    return f"postgresql://postgres@{PG_HOST}:{port}/postgres?schema={schema}&pool_size=2"


def _writer(url: str, barrier: Barrier, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from handoff_ledger.adapters.store.bootstrap import open_ledger

    ledger = open_ledger(url)
    me = f"agent_{os.getpid()}"

    def lifecycle() -> None:
        handoff = ledger.send(sender="inbox_monitor", to=me, payload=PAYLOAD).handoff
        ledger.ack(handoff.id, by=me)
        ledger.complete(handoff.id, by=me, result={"fix": "PR #412"})

    for _ in range(5):  # connections, prepared statements, caches
        lifecycle()
    barrier.wait()
    start, cpu, done = time.perf_counter(), time.process_time(), 0
    end = start + seconds
    while time.perf_counter() < end:
        lifecycle()
        done += 1
    out.put((done, time.perf_counter() - start, time.process_time() - cpu))
    ledger.close()


def run(urls: list[str], seconds: float) -> tuple[float, float]:
    """Lifecycles/s of all writers together, and their CPU ms per lifecycle."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(urls))
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_writer, args=(u, barrier, seconds, out)) for u in urls]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {p.exitcode})")
    total = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    cpu = sum(r[2] for r in results)
    return total / wall, cpu * 1000 / total


@contextmanager
def schemas(count: int) -> Iterator[list[str]]:
    names = [f"bench_w_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    from handoff_ledger.adapters.store.bootstrap import open_ledger

    for name in names:  # created here, not raced by the writers
        open_ledger(_url(name, PG_PORT)).close()
    try:
        yield names
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", default="1,2,4,8,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--proxy-ms", type=float, default=0.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.writers.split(",")]
    proxy = DelayProxy(PG_HOST, PG_PORT, args.proxy_ms / 1000) if args.proxy_ms else None
    port = proxy.start() if proxy else PG_PORT
    load = os.getloadavg()[0]
    print(
        f"lifecycle = send + ack + complete; {args.rounds} rounds x {args.seconds:g} s per "
        f"layout; proxy {args.proxy_ms:g} ms each way; load {load:.2f} at start"
    )
    single: list[float] = []
    try:
        for n in counts:
            shared_rates, separate_rates, ratios = [], [], []
            shared_cpu, separate_cpu = [], []
            with schemas(n + 1) as names:
                for r in range(args.rounds):
                    layouts = ["shared", "separate"] if r % 2 == 0 else ["separate", "shared"]
                    for layout in layouts:
                        urls = (
                            [_url(names[0], port)] * n
                            if layout == "shared"
                            else [_url(s, port) for s in names[1:]]
                        )
                        rate, cpu = run(urls, args.seconds)
                        if layout == "shared":
                            shared_rates.append(rate)
                            shared_cpu.append(cpu)
                        else:
                            separate_rates.append(rate)
                            separate_cpu.append(cpu)
                    ratios.append(shared_rates[-1] / separate_rates[-1])
            if n == 1:
                single = shared_rates
            line = (
                f"{n:>2} writers: shared {statistics.median(shared_rates):7.1f}/s "
                f"({statistics.median(shared_cpu):.2f} ms CPU), separate "
                f"{statistics.median(separate_rates):7.1f}/s "
                f"({statistics.median(separate_cpu):.2f} ms CPU); ratio median "
                f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"
            )
            if single and n > 1:
                line += f"; shared vs 1 writer {statistics.median(shared_rates) / statistics.median(single):.2f}x"
            print(line, flush=True)
    finally:
        if proxy:
            proxy.stop()
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()

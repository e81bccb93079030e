"""Reactor: where one pass of 10,000 escalation steps spends its CPU, by process.

The CPU seconds (user + system, from ``/proc``) of this process (the reactor), of
its views child (``on``: as ``handoff reactor`` runs on PostgreSQL) and of the
PostgreSQL server processes serving this store, for one ``run_once()`` an hour after
``--due`` handoffs fell due among ``--open`` open ones; the sides alternate, each
with its own group. The store is a database of its own, so the server processes
counted are this run's alone, whatever else the server is doing.

CPU seconds move less than wall time when other work shares the machine, but they
are not immune to it (a busy core's caches): compare sides within one run.

    PYTHONPATH=bench .venv/bin/python bench/reactor_cpu.py [--open 30000] [--due 10000]
        [--rounds 2] [--sides on,here]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
from common import PG_BASE
from reactor import SIDES, T0, fill_open

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_processes(database: str) -> dict[str, float]:
    """CPU seconds of every PostgreSQL backend connected to ``database``."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if words.startswith("postgres:") and f" {database} " in words:
            found[cmdline.parent.name] = cpu_seconds(cmdline.parent.name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=30_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sides", default="on,here")
    args = parser.parse_args()
    sides = args.sides.split(",")
    plan = [
        (r, side) for r in range(args.rounds) for side in (sides if r % 2 == 0 else sides[::-1])
    ]
    database = f"bench_cpu_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        url = PG_BASE.rsplit("/", 1)[0] + f"/{database}?pool_size=4"
        clock = SimulatedClock(T0)
        ledger = open_ledger(url, clock=clock)
        dues = [(args.due, timedelta(hours=1 + 2 * n)) for n in range(len(plan))]
        fill_open(ledger, args.open, dues)
        reactors = {side: SIDES[side](ledger) for side in sides}
        reactors[sides[0]].views.catch_up()
        print(f"{args.open:,} open, {args.due:,} due per pass; CPU seconds per pass")
        for n, (_, side) in enumerate(plan):
            clock.set(T0 + dues[n][1] + timedelta(hours=1))
            children = [child.pid for child in multiprocessing.active_children()]
            server, mine = server_processes(database), os.times()
            theirs = {pid: cpu_seconds(pid) for pid in children}
            began = time.perf_counter()
            report = reactors[side].run_once()
            wall = time.perf_counter() - began
            after = os.times()
            reactor = after.user - mine.user + after.system - mine.system
            child = sum(cpu_seconds(pid) - theirs[pid] for pid in children)
            served = sum(v - server.get(k, 0.0) for k, v in server_processes(database).items())
            assert len(report.steps) == args.due, (side, len(report.steps))
            print(
                f"  {side}: wall {wall:.2f} s; reactor {reactor:.2f}, child {child:.2f}, "
                f"server {served:.2f}, all {reactor + child + served:.2f}"
            )
        for reactor_ in reactors.values():
            reactor_.close()
        ledger.close()
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()

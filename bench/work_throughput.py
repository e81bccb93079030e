"""The client's work loop against ``handoff serve`` vs the bare HTTP lifecycle (issue 18).

One ``handoff serve`` on PostgreSQL (or SQLite), in the same run, rounds interleaved:

- **bare**: 8 threads, each running lifecycles over REST as fast as it can:
  ``POST /handoffs`` (inbox_monitor), ``POST /handoffs/{id}/ack`` and
  ``POST /handoffs/{id}/complete`` (code_agent); lifecycles/s.
- **work**: ``Client.work(handler, concurrency=8)`` for code_agent with a handler that
  returns at once, on handoffs sent beforehand (their sends are not timed): from the
  start of the loop to the last completion, handoffs/s. Each takes ``GET next``
  (take and ack) and ``POST complete``.

Target: work >= 0.8 x bare in the same run.

    .venv/bin/python bench/work_throughput.py [--rounds 5] [--per-round 240] [--store postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx
import psycopg
from common import PG_BASE
from http_lifecycle import start_server

from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.client import Client, Job

THREADS = 8


def bare(base: str, sender: str, coder: str, count: int) -> float:
    """Lifecycles/s of ``THREADS`` threads sharing ``count`` lifecycles over REST."""
    left = [count]
    lock = threading.Lock()

    def run() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                sent = http.post(
                    "/handoffs", json={"to": "code_agent"}, headers={"Authorization": sender}
                )
                hid = sent.json()["id"]
                http.post(f"/handoffs/{hid}/ack", json={}, headers={"Authorization": coder})
                done = http.post(
                    f"/handoffs/{hid}/complete", json={}, headers={"Authorization": coder}
                )
                assert done.status_code == 200, done.text

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - started)


def work(base: str, sender: str, coder_token: str, count: int, round_no: int) -> float:
    """Handoffs/s of ``Client.work(concurrency=THREADS)`` on ``count`` handoffs sent first."""
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(count):
            http.post("/handoffs", json={"to": "code_agent"}, headers={"Authorization": sender})
    done = [0]
    finished = threading.Event()
    lock = threading.Lock()

    def handler(job: Job) -> dict[str, Any]:
        with lock:
            done[0] += 1
            if done[0] >= count:
                finished.set()
        return {"ok": True}

    stop = threading.Event()
    with Client(base, token=coder_token, timeout=60) as client:
        started = time.perf_counter()
        loop = threading.Thread(
            target=client.work,
            args=(handler,),
            kwargs={
                "agent": "code_agent", "worker": f"r{round_no}", "concurrency": THREADS,
                "next_update": "10m", "stop": stop,
            },
        )  # fmt: skip
        loop.start()
        finished.wait(timeout=600)
        elapsed = time.perf_counter() - started
        stop.set()
        loop.join(timeout=60)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=240)
    parser.add_argument("--store", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    database = None
    if args.store == "postgresql":
        database = f"bench_work_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    else:
        url = f"sqlite:///{folder}/bench.db"
    ledger = open_ledger(url)
    try:
        sender_token = issue_token(ledger, "inbox_monitor")
        coder_token = issue_token(ledger, "code_agent")
    finally:
        ledger.close()
    server, base = start_server(url)
    try:
        sender, coder = f"Bearer {sender_token}", f"Bearer {coder_token}"
        bare(base, sender, coder, 40)  # warm up
        ratios, bares, works = [], [], []
        for round_no in range(args.rounds):
            bare_rate = bare(base, sender, coder, args.per_round)
            work_rate = work(base, sender, coder_token, args.per_round, round_no)
            bares.append(bare_rate)
            works.append(work_rate)
            ratios.append(work_rate / bare_rate)
            print(f"round {round_no + 1}: bare {bare_rate:6.1f}/s  work {work_rate:6.1f}/s  "
                  f"ratio {work_rate / bare_rate:.2f}", flush=True)  # fmt: skip
        print(
            f"{args.store}: bare {statistics.median(bares):.1f} lifecycles/s, work "
            f"{statistics.median(works):.1f} handoffs/s, ratio {statistics.median(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}); target >= 0.80 "
            + ("ok" if statistics.median(ratios) >= 0.8 else "MISSED")
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        if database:
            with psycopg.connect(PG_BASE, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()

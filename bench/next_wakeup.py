"""How fast a waiting ``next`` wakes when work is sent (issue 18).

Two ways of waiting, on each store:

- **another process**: ``handoff next --as code_agent --wait 60s --json`` runs in its
  own process; once it waits, this process sends a handoff and times until that
  process prints it (taken and acked). PostgreSQL wakes on the log's NOTIFY; SQLite
  polls the log's head every 0.1 s.
- **inside serve**: a long poll ``GET /agents/code_agent/next?wait=60s`` against a real
  ``handoff serve``; this process sends through ``POST /handoffs`` on the same server
  and times from the 201 to the long poll's 200 (the server looks every 10 ms).

Targets: another process on PostgreSQL p50 ≤ 20 ms and p99 ≤ 100 ms; on SQLite ≤ the
poll interval + 20 ms; inside serve, both stores p50 ≤ 20 ms.

    .venv/bin/python bench/next_wakeup.py [--samples 20] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from common import PG_BASE
from http_lifecycle import start_server

from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger

HANDOFF = str(Path(sys.executable).parent / "handoff")


def _store(kind: str, folder: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.db", None
    name = f"bench_wake_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def _drop(name: str | None) -> None:
    if name:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def another_process(url: str, samples: int) -> list[float]:
    """Milliseconds from a committed send to a waiting ``handoff next`` printing it."""
    env = {**os.environ, "HANDOFF_DB": url}
    ledger = open_ledger(url)
    latencies = []
    try:
        for sample in range(samples):
            waiting = subprocess.Popen(  # a worker of its own: nothing of its to resume
                [HANDOFF, "next", "--as", "code_agent", "--wait", "60s", "--json",
                 "--worker", f"w{sample}"],
                env=env, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(1.5)  # started, looked once, now waiting
            ledger.send(sender="inbox_monitor", to="code_agent", trigger="wake up")
            sent = time.perf_counter()
            assert waiting.stdout is not None
            line = waiting.stdout.readline()
            latencies.append((time.perf_counter() - sent) * 1000)
            waiting.wait(timeout=30)
            assert '"taken": "taken"' in line, line
    finally:
        ledger.close()
    return latencies


def inside_serve(url: str, samples: int) -> list[float]:
    """Milliseconds from a 201 of ``POST /handoffs`` to a waiting long poll's 200."""
    ledger = open_ledger(url)
    try:
        coder, sender = issue_token(ledger, "code_agent"), issue_token(ledger, "inbox_monitor")
    finally:
        ledger.close()
    server, base = start_server(url)
    latencies = []
    try:
        with httpx.Client(base_url=base, timeout=90) as http:
            for sample in range(samples):
                answered: list[float] = []

                def wait_for_work(answered: list[float] = answered, sample: int = sample) -> None:
                    with httpx.Client(base_url=base, timeout=90) as poller:
                        got = poller.get(
                            "/agents/code_agent/next",
                            params={"wait": "60s", "worker": f"h{sample}"},
                            headers={"Authorization": f"Bearer {coder}"},
                        )
                        answered.append(time.perf_counter())
                        assert got.status_code == 200, got.text

                waiter = threading.Thread(target=wait_for_work)
                waiter.start()
                time.sleep(0.5)
                created = http.post(
                    "/handoffs",
                    json={"to": "code_agent", "trigger": "wake up"},
                    headers={"Authorization": f"Bearer {sender}"},
                )
                sent = time.perf_counter()
                assert created.status_code == 201, created.text
                waiter.join()
                latencies.append((answered[0] - sent) * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return latencies


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"p50 {median:7.1f} ms  p99 {p99:7.1f} ms  max {ordered[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"wake-up of a waiting next after a send, {args.samples} samples each")
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory() as folder:
            url, database = _store(kind, Path(folder))
            try:
                open_ledger(url).close()  # the store exists before anyone waits on it
                print(f"{kind:<11} another process: {_summary(another_process(url, args.samples))}")
                print(f"{kind:<11} inside serve:    {_summary(inside_serve(url, args.samples))}")
            finally:
                _drop(database)


if __name__ == "__main__":
    main()

"""Lifecycle rate over HTTP (8 clients) against the in-process rate, and p99 at half load.

One lifecycle = send, ack, status, complete (four commands). Measured on one fresh
store per run, in this order:

1. in-process: 8 threads drive lifecycles through one ``Ledger`` for ``--seconds``
   (the baseline: the same commands without HTTP, tokens or JSON);
2. HTTP, full load: 8 client threads (httpx, keep-alive) against ``handoff serve``
   (one uvicorn process on loopback) for ``--seconds``;
3. HTTP, half load: the same clients paced to half of the rate measured in 2;
   latency of every request, p50 / p99.

Target (issue 5): HTTP rate / in-process rate >= 0.5, p99 <= 50 ms at half load.

    .venv/bin/python bench/http_lifecycle.py [--stores postgresql,sqlite] [--seconds 15] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from common import scratch_store

from handoff_ledger.adapters.bootstrap import open_ledger
from handoff_ledger.adapters.tokens import issue_token
from handoff_ledger.domain.states import Status

CLIENTS = 8
SERVE_ARGS: list[str] = []
HANDOFF = str(Path(sys.executable).parent / "handoff")


def in_process(url: str, seconds: float) -> float:
    ledger = open_ledger(url)
    done = [0] * CLIENTS
    stop = time.perf_counter() + seconds

    def drive(index: int) -> None:
        me = f"worker_{index}"
        while time.perf_counter() < stop:
            hid = ledger.send(sender="inbox_monitor", to=me, payload={"n": done[index]}).handoff.id
            ledger.ack(hid, by=me, next_update=None)
            ledger.report_status(hid, by=me, status=Status.WORKING, message="on it")
            ledger.complete(hid, by=me, result={"ok": True})
            done[index] += 1

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ledger.close()
    return sum(done) / elapsed


def over_http(
    base: str, tokens: dict[str, str], seconds: float, pace: float | None
) -> tuple[float, list[float]]:
    """Lifecycles/s and every request's latency (ms); ``pace``: lifecycles/s per client."""
    done = [0] * CLIENTS
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    stop = time.perf_counter() + seconds

    def drive(index: int) -> None:
        me = f"worker_{index}"
        sender = httpx.Client(base_url=base, headers=_auth(tokens["inbox_monitor"]), timeout=30)
        worker = httpx.Client(base_url=base, headers=_auth(tokens[me]), timeout=30)
        next_start = time.perf_counter()
        with sender, worker:
            while time.perf_counter() < stop:
                if pace is not None:
                    delay = next_start - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    next_start += 1 / pace
                hid = _timed(latencies[index], sender.post, "/handoffs", {"to": me})["id"]
                _timed(latencies[index], worker.post, f"/handoffs/{hid}/ack", {"eta": "1h"})
                _timed(
                    latencies[index], worker.post, f"/handoffs/{hid}/status",
                    {"status": "working", "message": "on it"},
                )  # fmt: skip
                _timed(
                    latencies[index], worker.post, f"/handoffs/{hid}/complete",
                    {"result": {"ok": True}},
                )  # fmt: skip
                done[index] += 1

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return sum(done) / elapsed, [ms for per in latencies for ms in per]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _timed(
    sink: list[float], post: object, path: str, body: dict[str, object]
) -> dict[str, object]:
    began = time.perf_counter()
    answer = post(path, json=body)  # type: ignore[operator]
    sink.append((time.perf_counter() - began) * 1000)
    answer.raise_for_status()
    document: dict[str, object] = answer.json()
    return document


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(backend: str, seconds: float) -> None:
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        agents = ["inbox_monitor", *(f"worker_{i}" for i in range(CLIENTS))]
        tokens = {name: issue_token(ledger, name) for name in agents}
        ledger.close()
        baseline = in_process(url, seconds)
        port = free_port()
        server = subprocess.Popen(
            [HANDOFF, "serve", "--port", str(port), *SERVE_ARGS],
            env={**os.environ, "HANDOFF_DB": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            full, full_latency = over_http(base, tokens, seconds, None)
            half, half_latency = over_http(base, tokens, seconds, full / 2 / CLIENTS)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            json.dumps(
                {
                    "store": backend,
                    "in_process_lifecycles_per_s": round(baseline, 1),
                    "http_lifecycles_per_s": round(full, 1),
                    "ratio": round(full / baseline, 2),
                    "full_load_p50_ms": round(percentile(full_latency, 0.5), 2),
                    "full_load_p99_ms": round(percentile(full_latency, 0.99), 2),
                    "half_load_lifecycles_per_s": round(half, 1),
                    "half_load_p50_ms": round(percentile(half_latency, 0.5), 2),
                    "half_load_p99_ms": round(percentile(half_latency, 0.99), 2),
                    "requests_timed": len(half_latency),
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="postgresql,sqlite")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=1, help="handoff serve --workers")
    args = parser.parse_args()
    SERVE_ARGS.extend(["--workers", str(args.workers)])
    for backend in args.stores.split(","):
        measure(backend, args.seconds)


if __name__ == "__main__":
    main()

"""Lifecycle rate over HTTP (8 clients) against the in-process rate, and p99 at half load.

One lifecycle = send, ack, status, complete (four commands). Two fresh stores per
run of the same kind, one for each side, so neither side's log (nor the server's
views catching up on it) weighs on the other:

1. in-process: 8 threads drive lifecycles through one ``Ledger`` (the baseline: the
   same commands without HTTP, tokens or JSON);
2. HTTP, full load: 8 clients against ``handoff serve`` (one uvicorn process on
   loopback), each client an agent with its own token driving whole lifecycles
   (send, then ack, status, complete on the id from the send answer);
3. HTTP, half load: the same clients paced to half of the rate measured in 2, for
   ``--seconds``; latency of every request, p50 / p99 (and p99 by command);
4. for reference, the in-process threads paced to the rate reached in 3: the latency
   of the same commands without HTTP, what the machine and the database allow.

Steps 1 and 2 alternate for ``--rounds`` rounds of ``--seconds / --rounds`` each,
so that whatever else the machine runs at the time weighs on both sides alike; the
rates are totals over all rounds (and the spread of the per-round ratios is shown).
Step 2 runs once per load generator in ``--clients``, in each round, against the
same server:

- ``raw``: ``raw_http.py``, one asyncio loop in a child process, 8 coroutines each
  with its own keep-alive HTTP/1.1 connections, requests written as bytes;
- ``httpx``: the original one, 8 threads in this process, an ``httpx.Client`` each
  (keep-alive), sharing this process's GIL.

CPU seconds of the server (with its views follower process) and of the in-process
baseline are read from ``/proc`` and reported per lifecycle, to show where the time
goes.

Target (issue 5): HTTP rate / in-process rate >= 0.5, p99 <= 50 ms at half load.

    .venv/bin/python bench/http_lifecycle.py [--stores postgresql,sqlite] [--seconds 15] \\
        [--rounds 5] [--clients raw,httpx] [--workers N]
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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import httpx
import raw_http
from common import scratch_store

from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.states import Status

CLIENTS = 8
BASELINE_THREADS = 8
SERVE_ARGS: list[str] = []
HANDOFF = str(Path(sys.executable).parent / "handoff")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (all its threads), from /proc (Linux)."""
    fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its living descendants (serve's views follower)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total


@dataclass
class Phase:
    """What one side did in one stretch: lifecycles, seconds, latencies, CPU."""

    lifecycles: int
    elapsed: float
    latencies: raw_http.Latencies = field(default_factory=dict)
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.lifecycles / self.elapsed

    @property
    def every_latency(self) -> list[float]:
        return [ms for per in self.latencies.values() for ms in per]


def stagger(index: int, pace: float | None) -> float:
    """Paced clients start spread evenly over one period, not all at the same instant."""
    return 0.0 if pace is None else index / (pace * CLIENTS)


def in_process(
    url: str, seconds: float, pace: float | None = None, threads: int | None = None
) -> Phase:
    """Lifecycles through one in-process ``Ledger`` for ``seconds``, with this process's CPU.

    ``pace``: lifecycles/s per thread (None: as fast as the ledger goes); ``threads``:
    how many drive it (default: as many as the HTTP clients).
    """
    count = threads or CLIENTS
    ledger = open_ledger(url)
    done = [0] * count
    latencies: list[raw_http.Latencies] = [{c: [] for c in raw_http.COMMANDS} for _ in range(count)]
    stop = time.perf_counter() + seconds

    def drive(index: int) -> None:
        me = f"worker_{index}"
        sink = latencies[index]
        next_start = time.perf_counter() + stagger(index, pace)
        while time.perf_counter() < stop:
            if pace is not None:
                delay = next_start - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                next_start += 1 / pace
            began = time.perf_counter()
            hid = ledger.send(sender="inbox_monitor", to=me, payload={"n": done[index]}).handoff.id
            sent = time.perf_counter()
            ledger.ack(hid, by=me, next_update=None)
            acked = time.perf_counter()
            ledger.report_status(hid, by=me, status=Status.WORKING, message="on it")
            reported = time.perf_counter()
            ledger.complete(hid, by=me, result={"ok": True})
            completed = time.perf_counter()
            steps = zip(
                raw_http.COMMANDS,
                (began, sent, acked, reported),
                (sent, acked, reported, completed),
                strict=True,
            )
            for command, start, end in steps:
                sink[command].append((end - start) * 1000)
            done[index] += 1

    workers = [threading.Thread(target=drive, args=(i,)) for i in range(count)]
    cpu = cpu_seconds()
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    cpu = cpu_seconds() - cpu
    ledger.close()
    merged = {c: [ms for per in latencies for ms in per[c]] for c in raw_http.COMMANDS}
    return Phase(sum(done), elapsed, merged, cpu=cpu)


def over_raw(base: str, tokens: dict[str, str], seconds: float, pace: float | None) -> Phase:
    """Like :func:`over_http`, with the lean asyncio client in a child process."""
    host, port = base.removeprefix("http://").split(":")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        lifecycles, elapsed, latencies = pool.submit(
            raw_http.drive_lifecycles, host, int(port), tokens, CLIENTS, seconds, pace
        ).result()
    return Phase(lifecycles, elapsed, latencies)


def over_http(base: str, tokens: dict[str, str], seconds: float, pace: float | None) -> Phase:
    """Lifecycles and every request's latency (ms); ``pace``: lifecycles/s per client."""
    done = [0] * CLIENTS
    latencies: list[raw_http.Latencies] = [
        {c: [] for c in raw_http.COMMANDS} for _ in range(CLIENTS)
    ]
    stop = time.perf_counter() + seconds

    def drive(index: int) -> None:
        me = f"worker_{index}"
        sender = httpx.Client(base_url=base, headers=_auth(tokens["inbox_monitor"]), timeout=30)
        worker = httpx.Client(base_url=base, headers=_auth(tokens[me]), timeout=30)
        next_start = time.perf_counter() + stagger(index, pace)
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
    merged = {c: [ms for per in latencies for ms in per[c]] for c in raw_http.COMMANDS}
    return Phase(sum(done), elapsed, merged)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _timed(
    sink: raw_http.Latencies, post: object, path: str, body: dict[str, object]
) -> dict[str, object]:
    began = time.perf_counter()
    answer = post(path, json=body)  # type: ignore[operator]
    command = path.rsplit("/", 1)[-1] if path != "/handoffs" else "send"
    sink[command].append((time.perf_counter() - began) * 1000)
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


LOAD_GENERATORS = {"raw": over_raw, "httpx": over_http}


def total(phases: list[Phase]) -> Phase:
    """Phases added up (rates over all of them)."""
    return Phase(
        sum(p.lifecycles for p in phases),
        sum(p.elapsed for p in phases),
        {c: [ms for p in phases for ms in p.latencies.get(c, [])] for c in raw_http.COMMANDS},
        sum(p.cpu for p in phases),
    )


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """``handoff serve`` on ``url``, once it answers ``/healthz``."""
    port = free_port()
    server = subprocess.Popen(
        [HANDOFF, "serve", "--port", str(port), *SERVE_ARGS],
        env={**os.environ, "HANDOFF_DB": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return server, base


def measure(backend: str, seconds: float, rounds: int, clients: list[str]) -> None:
    with scratch_store(backend) as baseline_url, scratch_store(backend) as served_url:
        open_ledger(baseline_url).close()  # both stores created before anything is timed
        ledger = open_ledger(served_url)
        agents = ["inbox_monitor", *(f"worker_{i}" for i in range(CLIENTS))]
        tokens = {name: issue_token(ledger, name) for name in agents}
        ledger.close()
        server, base = start_server(served_url)
        slice_ = seconds / rounds
        baseline: list[Phase] = []
        served: dict[str, list[Phase]] = {client: [] for client in clients}
        try:
            for _ in range(rounds):
                baseline.append(in_process(baseline_url, slice_, threads=BASELINE_THREADS))
                for client in clients:
                    cpu = tree_cpu_seconds(server.pid)
                    phase = LOAD_GENERATORS[client](base, tokens, slice_, None)
                    phase.cpu = tree_cpu_seconds(server.pid) - cpu
                    served[client].append(phase)
            inside = total(baseline)
            for client in clients:
                full = total(served[client])
                half = LOAD_GENERATORS[client](base, tokens, seconds, full.rate / 2 / CLIENTS)
                # The floor the machine and the database set: the same lifecycles at
                # the same rate, in process.
                floor = in_process(baseline_url, seconds, half.rate / CLIENTS)
                ratios = sorted(
                    s.rate / b.rate for s, b in zip(served[client], baseline, strict=True)
                )
                report = {
                    "store": backend,
                    "client": client,
                    "rounds": rounds,
                    "clients_at_once": CLIENTS,
                    "in_process_threads": BASELINE_THREADS,
                    "in_process_lifecycles_per_s": round(inside.rate, 1),
                    "in_process_cpu_ms_per_lifecycle": round(
                        1000 * inside.cpu / max(1, inside.lifecycles), 2
                    ),
                    "http_lifecycles_per_s": round(full.rate, 1),
                    "ratio": round(full.rate / inside.rate, 2),
                    "round_ratios_min_median_max": [
                        round(ratios[0], 2), round(ratios[len(ratios) // 2], 2),
                        round(ratios[-1], 2),
                    ],
                    "server_cpu_ms_per_lifecycle": round(
                        1000 * full.cpu / max(1, full.lifecycles), 2
                    ),
                    "full_load_p50_ms": round(percentile(full.every_latency, 0.5), 2),
                    "full_load_p99_ms": round(percentile(full.every_latency, 0.99), 2),
                    "full_load_max_ms": round(max(full.every_latency), 1),
                    "half_load_lifecycles_per_s": round(half.rate, 1),
                    "half_load_p50_ms": round(percentile(half.every_latency, 0.5), 2),
                    "half_load_p99_ms": round(percentile(half.every_latency, 0.99), 2),
                    "half_load_max_ms": round(max(half.every_latency), 1),
                    "half_load_p99_ms_by_command": {
                        c: round(percentile(half.latencies[c], 0.99), 1) for c in raw_http.COMMANDS
                    },
                    "requests_timed": len(half.every_latency),
                    "in_process_at_that_rate_p50_p99_ms": [
                        round(percentile(floor.every_latency, 0.5), 2),
                        round(percentile(floor.every_latency, 0.99), 2),
                    ],
                }  # fmt: skip
                print(json.dumps(report), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    global CLIENTS, BASELINE_THREADS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="postgresql,sqlite")
    parser.add_argument("--seconds", type=float, default=15.0, help="per side and load")
    parser.add_argument("--rounds", type=int, default=5, help="baseline/HTTP alternations")
    parser.add_argument("--workers", type=int, default=1, help="handoff serve --workers")
    parser.add_argument(
        "--clients", default="raw", help="load generators, comma-separated: raw, httpx"
    )
    parser.add_argument(
        "--concurrency", type=int, default=CLIENTS, help="clients at once (and baseline threads)"
    )
    parser.add_argument(
        "--baseline-threads",
        type=int,
        default=0,
        help="threads of the in-process baseline (default: as many as --concurrency; 1: "
        "the single-writer rate)",
    )
    args = parser.parse_args()
    CLIENTS = max(1, args.concurrency)
    BASELINE_THREADS = args.baseline_threads or CLIENTS
    SERVE_ARGS.extend(["--workers", str(args.workers)])
    clients = args.clients.split(",")
    unknown = set(clients) - set(LOAD_GENERATORS)
    if unknown:
        parser.error(f"--clients: unknown {', '.join(sorted(unknown))}")
    for backend in args.stores.split(","):
        measure(backend, args.seconds, max(1, args.rounds), clients)


if __name__ == "__main__":
    main()

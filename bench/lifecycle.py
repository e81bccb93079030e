"""Lifecycle rate (send, ack, complete) through the Ledger vs a bare eventsourcing aggregate.

Both sides make the same three saves per lifecycle on the same kind of store, in
the same run, interleaved round by round so machine noise hits both alike:

- baseline: a minimal ``eventsourcing`` aggregate (create; get + ack; get + complete)
- ledger:   ``Ledger.send`` / ``Ledger.ack`` / ``Ledger.complete``, with every rule,
            the protocol lookup, the retry wrapper and the simulated clock

Prints lifecycles/s for each (medians over the rounds), the ratio (the median of
the rounds' ratios, with their range; target ≥ 0.8 on each store), and each side's
CPU time per lifecycle in this process (steadier than rates on a shared machine;
PostgreSQL's own CPU is not in it) with the median of the rounds' ledger/bare CPU
ratios (issue 24 item 5: target ≤ 1.2).

    .venv/bin/python bench/lifecycle.py [--rounds 7] [--per-round 200] [--stores sqlite,postgresql]

``--tracing`` (issue 23) compares the ledger with itself instead: tracing off and on
alternate on one ledger every ``--slice`` lifecycles within each round (the order flipped
every slice), tracing on exporting to an in-memory exporter through the ledger's own batching, as
``OTEL_TRACES_EXPORTER`` sets up with a real exporter (flushed at the end of each "on"
slice, inside its time). ``/metrics`` has nothing to switch on per lifecycle (it is
computed when scraped: docs/metrics.md), so the "on" rounds differ by tracing alone.
Prints CPU ms per lifecycle off and on (medians) and the median of the rounds' on/off
ratios with their range; target ≤ 1.05.

    .venv/bin/python bench/lifecycle.py --tracing [--rounds 11] [--per-round 200] [--slice 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from common import scratch_store
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.urls import parse_store_url

PG_BASE = "postgresql://postgres@127.0.0.1:5432/postgres"


class BareHandoff(Aggregate):
    """The least an event-sourced handoff can be: three events, no rules."""

    @event("Created")
    def __init__(self, sender: str, receiver: str, payload: dict[str, object]) -> None:
        self.sender = sender
        self.receiver = receiver
        self.payload = payload
        self.state = "requested"

    @event("Acked")
    def ack(self, by: str) -> None:
        self.state = "acked"

    @event("Completed")
    def complete(self, by: str, result: dict[str, object]) -> None:
        self.state = "completed"


class BareApp(Application[uuid.UUID]):
    name = "Bare"


PAYLOAD = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


def bare_lifecycle(app: BareApp) -> None:
    handoff = BareHandoff(sender="inbox_monitor", receiver="code_agent", payload=PAYLOAD)
    app.save(handoff)
    loaded: BareHandoff = app.repository.get(handoff.id)
    loaded.ack(by="code_agent")
    app.save(loaded)
    loaded = app.repository.get(handoff.id)
    loaded.complete(by="code_agent", result={"fix": "PR #412"})
    app.save(loaded)


def ledger_lifecycle(ledger: Ledger) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent", payload=PAYLOAD).handoff
    ledger.ack(handoff.id, by="code_agent")
    ledger.complete(handoff.id, by="code_agent", result={"fix": "PR #412"})


def rate(run: Callable[[], None], count: int) -> tuple[float, float]:
    """Lifecycles per second, and CPU milliseconds of this process per lifecycle."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        run()
    return count / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / count


class Result:
    """One store's rounds: (rate, CPU ms) per round for each side."""

    def __init__(self, bare: list[tuple[float, float]], ledger: list[tuple[float, float]]):
        self.bare, self.ledger = bare, ledger

    def ratios(self) -> list[float]:
        return sorted(
            ours[0] / theirs[0] for ours, theirs in zip(self.ledger, self.bare, strict=True)
        )

    def cpu_ratios(self) -> list[float]:
        """Each round's ledger / bare CPU per lifecycle (issue 24 item 5's figure)."""
        return sorted(
            ours[1] / theirs[1] for ours, theirs in zip(self.ledger, self.bare, strict=True)
        )


def measure(store: str, rounds: int, per_round: int) -> Result:
    folder = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    schemas: list[str] = []

    def url_for(name: str) -> str:
        if store == "sqlite":
            return f"sqlite:///{folder / name}.db"
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        schemas.append(schema)
        return f"{PG_BASE}?schema={schema}"

    ledger = open_ledger(url_for("ledger"))
    # The baseline opens its store through the same URL parsing, so both sides get
    # identical library settings (pool size, lock timeout, WAL).
    bare_url = url_for("bare")
    open_ledger(bare_url).close()  # creates the schema on PostgreSQL
    bare = BareApp(env={**parse_store_url(bare_url).env})
    try:
        for _ in range(max(10, per_round // 10)):  # warm both: connections, caches, JIT of SQL
            bare_lifecycle(bare)
            ledger_lifecycle(ledger)
        bare_rounds, ledger_rounds = [], []
        for _ in range(rounds):
            bare_rounds.append(rate(lambda: bare_lifecycle(bare), per_round))
            ledger_rounds.append(rate(lambda: ledger_lifecycle(ledger), per_round))
        return Result(bare_rounds, ledger_rounds)
    finally:
        ledger.close()
        bare.close()
        if schemas:
            with psycopg.connect(PG_BASE, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def measure_tracing(
    store: str, rounds: int, per_round: int, slice_size: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]], float]:
    """(rate, CPU ms) per round with tracing off and on, and spans per lifecycle.

    Within a round the two sides alternate every ``slice_size`` lifecycles (the order
    flipped each slice), so a burst of other load on the machine falls on both; each
    "on" slice ends with a flush, so building and exporting its spans is counted too.
    """
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from handoff_ledger.adapters.ledger.spans import Tracing

    with scratch_store(store) as url:
        ledger = open_ledger(url)
        exporter = InMemorySpanExporter()
        on = Tracing.to(exporter)
        try:
            for tracing in (on, None) * max(5, per_round // 20):  # warm both sides
                ledger.tracing = tracing
                ledger_lifecycle(ledger)
            on.force_flush()
            exporter.clear()
            off_rounds, on_rounds, spans = [], [], 0
            for n in range(rounds):
                cpu, wall = {False: 0.0, True: 0.0}, {False: 0.0, True: 0.0}
                slices = max(1, per_round // slice_size)
                for k in range(slices):
                    for traced in (False, True) if (n + k) % 2 == 0 else (True, False):
                        ledger.tracing = on if traced else None
                        started, cpu_started = time.perf_counter(), time.process_time()
                        for _ in range(slice_size):
                            ledger_lifecycle(ledger)
                        if traced:
                            on.force_flush()
                        cpu[traced] += time.process_time() - cpu_started
                        wall[traced] += time.perf_counter() - started
                count = slices * slice_size
                off_rounds.append((count / wall[False], cpu[False] * 1000 / count))
                on_rounds.append((count / wall[True], cpu[True] * 1000 / count))
                spans += len(exporter.get_finished_spans())
                exporter.clear()
            return off_rounds, on_rounds, spans / (rounds * slices * slice_size)
        finally:
            on.shutdown()
            ledger.close()


def main_tracing(args: argparse.Namespace) -> None:
    print(
        f"lifecycle = send + ack + complete; tracing off vs on (in-memory exporter);"
        f" {args.rounds} rounds x {args.per_round} per side, alternating every"
        f" {args.slice}; medians"
    )
    print(
        f"{'store':<11} {'off /s':>8} {'on /s':>8} {'CPU ms off':>11} {'on':>6}"
        f" {'on/off':>7} {'(rounds)':>12} {'spans':>6}  target"
    )
    for store in args.stores.split(","):
        off, on, spans = measure_tracing(store, args.rounds, args.per_round, args.slice)
        ratios = sorted(o[1] / f[1] for o, f in zip(on, off, strict=True))
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio <= 1.05 else "OVER 1.05"
        print(
            f"{store:<11} {statistics.median(r for r, _ in off):>8.1f}"
            f" {statistics.median(r for r, _ in on):>8.1f}"
            f" {statistics.median(c for _, c in off):>11.3f}"
            f" {statistics.median(c for _, c in on):>6.3f} {ratio:>7.3f}"
            f" {f'({ratios[0]:.2f}-{ratios[-1]:.2f})':>12} {spans:>6.1f}  ≤ 1.05 {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--tracing", action="store_true", help="tracing off vs on instead of bare vs ledger"
    )
    parser.add_argument(
        "--slice", type=int, default=20, help="--tracing: lifecycles per side between switches"
    )
    args = parser.parse_args()
    if args.tracing:
        args.rounds = args.rounds or 11
        main_tracing(args)
        return
    args.rounds = args.rounds or 7
    print(f"lifecycle = send + ack + complete; {args.rounds} rounds x {args.per_round}, median")
    print(
        f"{'store':<11} {'bare /s':>9} {'ledger /s':>10} {'ratio':>6} {'(rounds)':>12}"
        f" {'CPU ms bare':>12} {'ledger':>7} {'CPU ratio':>10} {'(rounds)':>12}  target"
    )
    for store in args.stores.split(","):
        result = measure(store, args.rounds, args.per_round)
        ratios, cpu = result.ratios(), result.cpu_ratios()
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio >= 0.8 else "BELOW 0.8"
        print(
            f"{store:<11} {statistics.median(r for r, _ in result.bare):>9.1f}"
            f" {statistics.median(r for r, _ in result.ledger):>10.1f} {ratio:>6.2f}"
            f" {f'({ratios[0]:.2f}-{ratios[-1]:.2f})':>12}"
            f" {statistics.median(c for _, c in result.bare):>12.2f}"
            f" {statistics.median(c for _, c in result.ledger):>7.2f}"
            f" {statistics.median(cpu):>10.2f} {f'({cpu[0]:.2f}-{cpu[-1]:.2f})':>12}"
            f"  ≥ 0.80 {verdict}"
        )


if __name__ == "__main__":
    main()

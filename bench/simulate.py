"""How long ``protocol simulate`` takes over a 100,000-event log (issue 26: ≤ 5 s).

A fresh store is filled with ~100,000 events (``common.fill``: about 29,500 handoffs,
30 % left open, no reactor ever ran). The candidate declares the agents and a default
policy with two levels per broken update promise. No reactor ran on the log, so the
steps both runs have pending are not taken (as a live reactor that has not run): the
cost measured is the replay itself, every send and agent command under the candidate.
The JSON difference is written to a null sink, as ``--json > file`` would. Measured in this process, median of ``--rounds``:

- baseline: reading and decoding the whole log through the library (what any answer
  folded from the log must do at least);
- the simulation, the JSON difference written out;
- the peak number of handoffs held in memory (open at once) against the log's size.

    .venv/bin/python bench/simulate.py [--stores sqlite,postgresql] [--handoffs 29500]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import AGENTS, fill, scratch_store

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.simulate import Simulation
from handoff_ledger.adapters.services.simulation_report import simulation_chunks
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.protocol import Protocol

START = datetime(2026, 11, 25, tzinfo=UTC)
CANDIDATE = "\n".join(
    [f"[agents.{name}]" for name in AGENTS]
    + [
        '[agents."human:me"]',
        "admin = true",
        "",
    ]
)
CANDIDATE = (
    "escalation = [\n"
    '  { on = "update_overdue", notify = ["human:me"] },\n'
    '  { after = "30m", notify = ["human:me"] },\n'
    "]\n" + CANDIDATE
)


def measure(backend: str, handoffs: int, rounds: int) -> None:
    with scratch_store(backend) as url:
        ledger = open_ledger(url, clock=SimulatedClock(START), create=True)
        events = fill(ledger, handoffs, start=START)
        end = START + timedelta(seconds=handoffs + 10, hours=5)
        candidate = Protocol.parse(CANDIDATE, "candidate.toml")
        baseline, runs = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            for _entry in ledger.read_log():
                pass
            baseline.append(time.perf_counter() - began)
            began = time.perf_counter()
            simulation = Simulation(ledger, candidate, START, end)
            written = sum(len(chunk) for chunk in simulation_chunks(simulation))
            runs.append(time.perf_counter() - began)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{backend}: {events} events; read + decode {statistics.median(baseline):.2f} s; "
            f"simulate {statistics.median(runs):.2f} s ({events / statistics.median(runs):,.0f}"
            f" events/s); {sum(simulation.summary.values())} differences, {written:,} bytes "
            f"of JSON; peak open {simulation.peak_open}; peak RSS {rss:.0f} MB",
            flush=True,
        )
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--handoffs", type=int, default=29_500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for backend in args.stores.split(","):
        measure(backend, args.handoffs, args.rounds)


if __name__ == "__main__":
    main()

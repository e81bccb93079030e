"""How long a ``handoff`` process takes to start, against ``python -c pass``, same run.

Four processes, run one after another in every round, their order rotated from round
to round so that whatever else the machine runs weighs on all alike; each one's time
is its median wall time (start to exit) over all rounds:

1. ``python -c pass``: the interpreter's own start, the baseline;
2. ``handoff --help``: every command listed;
3. ``handoff ack --help``: one command's help;
4. ``handoff ack ID --as code_agent --db sqlite:///...``: a real ack on a scratch SQLite
   store (initialised, one fresh handoff per round created beforehand, untimed, so
   every timed ack records one), with ``--json`` unless ``--human``.

With ``--before PATH`` (another checkout's ``handoff``, e.g. main's), the three
``handoff`` processes run with that one too, in the same rounds: a before/after that
the machine's load weighs on alike. Each process's CPU time (user + system, from
``getrusage``) is reported beside its wall time: less sensitive to other processes.

Targets (issue 25, item 4): ``handoff --help`` <= 0.15 s more than ``python -c pass``;
a ``handoff ack`` process (the real ack, and ``ack --help``) <= 0.3 s more.

Prints one JSON report: each process's runs and median, its difference from the
baseline, whether it meets its target, and the load average before and after.

    .venv/bin/python bench/cli_start.py [--rounds 15] [--human] [--before PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from common import scratch_store

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff

BIN = Path(sys.executable).parent
HANDOFF = str(BIN / "handoff")
TARGETS = {"handoff --help": 0.15, "handoff ack --help": 0.3, "handoff ack": 0.3}


def create_handoffs(url: str, count: int) -> list[UUID]:
    """``count`` requested handoffs to code_agent, on a store created here."""
    ledger = open_ledger(url, create=True)
    try:
        now = datetime.now(UTC)
        handoffs = [
            Handoff.request(
                now=now, sender="inbox_monitor", receiver="code_agent", payload={"n": n}
            )
            for n in range(count)
        ]
        ledger.save(*handoffs)
        return [h.id for h in handoffs]
    finally:
        ledger.close()


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds from start to exit; a failure stops the bench."""
    cpu, started = cpu_seconds(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return took, cpu_seconds() - cpu


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--human", action="store_true", help="the ack prints text, not JSON")
    parser.add_argument("--before", help="another checkout's handoff, timed in the same rounds")
    args = parser.parse_args()
    sides = {"": HANDOFF, **({"before: ": args.before} if args.before else {})}
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with scratch_store("sqlite") as url:
        ids = create_handoffs(url, args.rounds * len(sides))
        fmt = [] if args.human else ["--json"]
        for round_number in range(args.rounds):
            argv = {"python -c pass": [sys.executable, "-c", "pass"]}
            for number, (side, handoff) in enumerate(sides.items()):
                handoff_id = str(ids[round_number * len(sides) + number])
                argv[f"{side}handoff --help"] = [handoff, "--help"]
                argv[f"{side}handoff ack --help"] = [handoff, "ack", "--help"]
                argv[f"{side}handoff ack"] = [
                    handoff, "ack", handoff_id, "--as", "code_agent", "--db", url, *fmt
                ]  # fmt: skip
            names = list(argv)
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                wall, used = timed(argv[name])
                runs.setdefault(name, []).append(wall)
                cpu.setdefault(name, []).append(used)
        acked = open_ledger(url)
        try:
            not_acked = [i for i in ids if acked.get(i).acked_at is None]
        finally:
            acked.close()
    if not_acked:
        raise SystemExit(f"{len(not_acked)} handoffs were not acked")
    baseline = statistics.median(runs["python -c pass"])
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": args.rounds,
        "ack_output": "text" if args.human else "json",
        "before": args.before,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "median_s": {name: median(r) for name, r in runs.items()},
        "over_python_s": {
            name: round(statistics.median(r) - baseline, 3)
            for name, r in runs.items()
            if name != "python -c pass"
        },
        "target_over_python_s": TARGETS,
        "met": {
            name: statistics.median(runs[name]) - baseline <= target
            for name, target in TARGETS.items()
        },
        "cpu_median_s": {name: median(r) for name, r in cpu.items()},
        "runs_s": {name: [round(x, 3) for x in r] for name, r in runs.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

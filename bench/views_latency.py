"""Event → view latency while a runner follows the log.

A runner process (``handoff projections run``) follows the store; this process
sends handoffs one at a time and measures, for each, the time from its commit to
its row appearing in the chains view. Baseline in the same run: commit → the
event readable from the log itself (what any reader can do at best).

    .venv/bin/python bench/views_latency.py [--count 200] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import scratch_store

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views

HANDOFF = str(Path(sys.executable).parent / "handoff")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    print(
        f"{'store':<11} {'baseline p50 ms':>16} {'view p50 ms':>12} {'view p95 ms':>12} {'target p50':>11}"
    )
    for backend in args.stores.split(","):
        with scratch_store(backend) as url:
            ledger = open_ledger(url)
            views = Views(ledger)
            runner = subprocess.Popen(
                [HANDOFF, "projections", "run", "--interval", "0.1"],
                env={**os.environ, "HANDOFF_DB": url},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                warm = ledger.send(sender="a", to="b").handoff
                while views.read.handoff(str(warm.id)) is None:
                    time.sleep(0.01)
                base, lag = [], []
                for _ in range(args.count):
                    handoff = ledger.send(sender="a", to="b").handoff
                    committed = time.perf_counter()
                    head = ledger.recorder.max_notification_id()
                    while not ledger.recorder.select_notifications(start=head or 1, limit=1):
                        time.sleep(0.0005)
                    base.append((time.perf_counter() - committed) * 1000)
                    while views.read.handoff(str(handoff.id)) is None:
                        time.sleep(0.001)
                    lag.append((time.perf_counter() - committed) * 1000)
                    time.sleep(0.02)  # a steady trickle, not a flood
            finally:
                runner.send_signal(signal.SIGTERM)
                runner.wait(timeout=30)
                ledger.close()
            target = "≤ 50" if backend == "postgresql" else "≤ 250"
            lag.sort()
            print(
                f"{backend:<11} {statistics.median(base):>16.2f} {statistics.median(lag):>12.1f} "
                f"{lag[int(0.95 * len(lag))]:>12.1f} {target:>11}"
            )


if __name__ == "__main__":
    main()

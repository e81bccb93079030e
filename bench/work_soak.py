"""The work loop's soak (issue 18): ``tests/e2e/test_work_exactly_once.py`` at full size.

Two client ``work()`` processes over a ``handoff serve`` and one ``handoff work --exec``
on one agent's inbox, one client process SIGKILLed and restarted ``--kills`` times
(one a second), on SQLite and PostgreSQL: every handoff completed exactly once (from
the log), none acked twice, none left taken and unfinished, no update promise broken
while a handler ran normally. ``make test`` runs it with 60 handoffs and 3 kills.

    .venv/bin/python bench/work_soak.py [--handoffs 300] [--kills 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=300)
    parser.add_argument("--kills", type=int, default=8)
    args = parser.parse_args()
    env = {
        **os.environ,
        "CI": "true",  # PostgreSQL must run, never skip
        "HANDOFF_SOAK_HANDOFFS": str(args.handoffs),
        "HANDOFF_SOAK_KILLS": str(args.kills),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
         "tests/e2e/test_work_exactly_once.py"],
        cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    verdict = "every check held" if done.returncode == 0 else "FAILED"
    print(f"{args.handoffs} handoffs, {args.kills} kills per store: {verdict} ({seconds:.0f} s)")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()

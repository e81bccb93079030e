"""The A2A bridge's soak (issue 17): ``tests/e2e/test_a2a_bridge.py``'s SIGKILL test at full size.

A remote agent built from ``a2a-sdk``'s own server classes (in a process of its own,
honouring the ledger extension's idempotency key), handoffs sent to it while a
``handoff a2a-bridge`` is SIGKILLed and restarted ``--kills`` times mid-run, on SQLite
and PostgreSQL: every handoff reached the remote, which acted on each exactly once,
and the ledger recorded each remote state (ack, working, complete) exactly once.
``make test`` runs it with 40 handoffs and 3 kills.

    .venv/bin/python bench/a2a_bridge_soak.py [--handoffs 200] [--kills 3]
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
    parser.add_argument("--handoffs", type=int, default=200)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    env = {
        **os.environ,
        "CI": "true",  # PostgreSQL must run, never skip
        "HANDOFF_A2A_SOAK_HANDOFFS": str(args.handoffs),
        "HANDOFF_A2A_SOAK_KILLS": str(args.kills),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
         "tests/e2e/test_a2a_bridge.py", "-k", "killed"],
        cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    verdict = "every check held" if done.returncode == 0 else "FAILED"
    print(f"{args.handoffs} handoffs, {args.kills} kills per store: {verdict} ({seconds:.0f} s)")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()

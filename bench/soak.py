"""The full-size variants of the long tests (issue 21: ``make test`` within ~10 minutes).

``make test`` runs ``pytest -m "not soak"``: each long test there is a shortened twin
(fewer handoffs, processes or hypothesis examples, the same assertions) of a variant
marked ``soak``. This runs the ``soak`` ones, on both stores (``CI=true``: PostgreSQL
must run, never skip), and says how long they took. Other sizes are set by their
own scripts: ``bench/work_soak.py`` and ``bench/a2a_bridge_soak.py``.

    .venv/bin/python bench/soak.py [--workers 2] [-- extra pytest arguments]
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
    parser.add_argument("--workers", default="auto", help="pytest-xdist -n (default auto)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    env = {**os.environ, "CI": "true"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "soak", "-n", args.workers, "--dist",
         "loadfile", "-q", "-p", "no:cacheprovider", "--durations=0", *args.pytest_args],
        cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    verdict = "every check held" if done.returncode == 0 else "FAILED"
    print(f"soak (pytest -m soak): {verdict} ({seconds:.0f} s)")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()

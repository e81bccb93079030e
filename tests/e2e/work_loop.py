"""A client work loop in a process of its own (the tests SIGKILL it), as an agent runs one.

    python work_loop.py URL TOKEN AGENT WORKER UNTIL_IDLE TAKES

Each handoff's payload says what the handler does: sleep ``n % 4 * 0.03 + 0.05``
seconds (``"n"``), or on its first run only sleep ``"sleep_first"`` seconds. Every run
appends ``{"id", "taken", "worker"}`` to the file TAKES before it starts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from handoff_ledger.client import Client, Job


def main() -> None:
    url, token, agent, worker, until_idle, takes = sys.argv[1:7]
    log = Path(takes)

    def handler(job: Job) -> dict[str, Any]:
        first = job.id not in log.read_text(encoding="utf-8") if log.exists() else True
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"id": job.id, "taken": job.handoff["taken"], "worker": worker}))
            out.write("\n")
        payload = job.payload
        if "sleep_first" in payload:
            time.sleep(payload["sleep_first"] if first else 0)
        else:
            time.sleep(0.05 + (payload.get("n", 0) % 4) * 0.03)
        return {"n": payload.get("n"), "by": worker}

    with Client(url, token=token, timeout=30) as ledger:
        ledger.work(handler, agent=agent, worker=worker, next_update="20s",
                    until_idle=float(until_idle))  # fmt: skip


if __name__ == "__main__":
    main()

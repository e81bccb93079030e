"""Three ``handoff work --exec`` workers on one agent's inbox, one SIGKILLed and restarted
three times: every handoff completed exactly once, none acked twice, none left taken and
unfinished, and no update promise broken while a handler ran normally (both stores)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from conftest import CLI, HANDOFF

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff

HANDOFFS = 60
KILLS = 3
JOB = """
import json, sys, time
payload = json.load(sys.stdin)
time.sleep(0.05 + (payload["n"] % 4) * 0.03)
print(json.dumps({"n": payload["n"]}))
"""


def start(cli: CLI, worker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [HANDOFF, "work", "--as", "code_agent", "--exec", f"{sys.executable} job.py",
         "--worker", worker, "--next-update", "20s", "--until-idle", "4s"],
        cwd=cli.cwd, env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_workers_killed_and_restarted_complete_each_handoff_exactly_once(
    cli: CLI, tmp_path: Path
) -> None:
    (tmp_path / "job.py").write_text(JOB)
    ledger = open_ledger(cli.url)
    try:
        for n in range(HANDOFFS):
            ledger.send(sender="inbox_monitor", to="code_agent", payload={"n": n})
    finally:
        ledger.close()
    workers = {name: start(cli, name) for name in ("w1", "w2", "w3")}
    for _ in range(KILLS):
        time.sleep(1.0)
        os.kill(workers["w1"].pid, signal.SIGKILL)
        workers["w1"].communicate()  # reaped, its pipe closed
        workers["w1"] = start(cli, "w1")  # the same worker id: it resumes its own work
    for name, process in workers.items():
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, (name, stderr)
        assert b"Traceback" not in stderr

    ledger = open_ledger(cli.url)
    try:
        events = [entry.event for entry in ledger.read_log()]
    finally:
        ledger.close()
    created = {e.originator_id for e in events if isinstance(e, Handoff.Created)}
    completed = Counter(e.originator_id for e in events if isinstance(e, Handoff.Completed))
    acked = Counter(e.originator_id for e in events if isinstance(e, Handoff.Acked))
    assert len(created) == HANDOFFS
    assert completed == Counter(dict.fromkeys(created, 1))  # each exactly once
    assert acked == Counter(dict.fromkeys(created, 1))  # none acked twice
    assert not [e for e in events if isinstance(e, Handoff.StatusReported)]  # none stuck
    by_worker = Counter(getattr(e, "worker", None) for e in events if isinstance(e, Handoff.Acked))
    assert set(by_worker) <= {"w1", "w2", "w3"}
    assert len(by_worker) >= 2  # the inbox really was shared
    # No promise broken while a handler ran: each completion came before its update was due.
    due = {e.originator_id: e.update_due for e in events if isinstance(e, Handoff.Acked)}
    for event in events:
        if isinstance(event, Handoff.Completed):
            promised = due[event.originator_id]
            assert promised is not None
            assert event.timestamp <= promised + timedelta(seconds=0)

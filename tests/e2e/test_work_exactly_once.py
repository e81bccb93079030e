"""Two client ``work()`` processes (over a ``handoff serve``) and one ``handoff work --exec``
on one agent's inbox, a client process SIGKILLed and restarted three times: every handoff
completed exactly once, none acked twice, none left taken and unfinished, and no update
promise broken while a handler ran normally (both stores)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from conftest import CLI, HANDOFF
from test_http import start_server, stop

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff

HANDOFFS = int(os.environ.get("HANDOFF_SOAK_HANDOFFS", "60"))
KILLS = int(os.environ.get("HANDOFF_SOAK_KILLS", "3"))
"""Shortened here; ``bench/work_soak.py`` runs the same test with 300 handoffs."""
JOB = """
import json, sys, time
payload = json.load(sys.stdin)
time.sleep(0.05 + (payload["n"] % 4) * 0.03)
print(json.dumps({"n": payload["n"]}))
"""


WORK_LOOP = Path(__file__).with_name("work_loop.py")


def start_loop(url: str, token: str, worker: str, takes: Path) -> subprocess.Popen[bytes]:
    """A client ``work()`` loop in a process of its own (``work_loop.py``)."""
    args = [url, token, "code_agent", worker, "4", str(takes)]
    return subprocess.Popen([sys.executable, str(WORK_LOOP), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


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
    token = cli.issue_tokens("code_agent")["code_agent"]
    server, url = start_server(cli)
    takes = tmp_path / "takes.jsonl"
    try:
        workers = {
            "w1": start_loop(url, token, "w1", takes),
            "w2": start_loop(url, token, "w2", takes),
            "w3": start(cli, "w3"),
        }
        for _ in range(KILLS):
            time.sleep(1.0)
            os.kill(workers["w1"].pid, signal.SIGKILL)
            workers["w1"].communicate()  # reaped, its pipe closed
            workers["w1"] = start_loop(url, token, "w1", takes)  # the same id: it resumes
        for name, process in workers.items():
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, (name, stderr)
            assert b"Traceback" not in stderr
    finally:
        stop(server)

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
    reports = [e for e in events if isinstance(e, Handoff.StatusReported)]
    assert {e.status for e in reports} <= {"working"}  # none stuck (a resumed one renewed)
    by_worker = Counter(getattr(e, "worker", None) for e in events if isinstance(e, Handoff.Acked))
    assert set(by_worker) <= {"w1", "w2", "w3"}
    assert {"w1", "w2", "w3"} <= set(by_worker)  # the inbox really was shared by all three
    # No promise broken while a handler ran: each move came before the update then due.
    due: dict[object, object] = {}
    for event in events:
        promised = due.get(event.originator_id)
        if promised is not None:
            assert event.timestamp <= promised, event
        if getattr(event, "update_due", None) is not None:
            due[event.originator_id] = event.update_due

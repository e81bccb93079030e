"""``handoff next`` and ``handoff work --exec`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import CLI, HANDOFF

JOB = """
import json, sys, time
n = json.load(sys.stdin)["n"]
if n == 2: sys.stderr.write("not mine"); sys.exit(3)
if n == 3: sys.stderr.write("tried, the API is down"); sys.exit(4)
if n == 4: sys.exit(7)
if n == 5: print("plain text")
else: print(json.dumps({"done": n}))
"""


def test_next_waits_then_says_nothing_and_takes_work_sent_meanwhile(cli: CLI) -> None:
    """On both stores (PostgreSQL wakes on the log's NOTIFY, SQLite polls)."""
    cli.json("send", "--from", "inbox_monitor", "--to", "support_agent")  # a store, no work
    started = time.monotonic()
    assert cli.json("next", "--as", "code_agent", "--wait", "2s") is None
    waited = time.monotonic() - started
    assert 2.0 <= waited < 30

    def send_soon() -> None:
        time.sleep(1.0)
        cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--trigger", "now")

    sender = threading.Thread(target=send_soon)
    sender.start()
    started = time.monotonic()
    taken = cli.json("next", "--as", "code_agent", "--wait", "60s", "--worker", "w1")
    sender.join()
    assert time.monotonic() - started < 30  # returned when the work came, not at 60 s
    assert (taken["trigger"], taken["taken"], taken["worker"], taken["state"]) == (
        "now",
        "taken",
        "w1",
        "acked",
    )
    again = cli.json("next", "--as", "code_agent", "--worker", "w1")
    assert (again["id"], again["taken"]) == (taken["id"], "resumed")
    assert cli.json("next", "--as", "code_agent", "--worker", "w2") is None
    assert cli.run("next", "--as", "code_agent", "--worker", "a b", expect=2)


def test_work_exec_maps_exit_codes_to_outcomes(sqlite_cli: CLI, tmp_path: Path) -> None:
    cli = sqlite_cli
    (tmp_path / "job.py").write_text(JOB)
    ids = {}
    for n in range(1, 6):
        sent = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent",
                        "--payload", json.dumps({"n": n}))  # fmt: skip
        ids[sent["id"]] = n
        time.sleep(0.01)  # queued in the order sent
    done = subprocess.run(
        [HANDOFF, "work", "--as", "code_agent", "--exec", f"{sys.executable} job.py",
         "--until-idle", "1s", "--json"],
        cwd=cli.cwd, env=cli.env(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    outcomes = {ids[o["id"]]: o for o in map(json.loads, done.stdout.splitlines())}
    assert {n: o["outcome"] for n, o in outcomes.items()} == {
        1: "completed",
        2: "declined",
        3: "failed",
        4: "stuck",
        5: "completed",
    }
    shown = {ids[i]: cli.json("show", i) for i in ids}
    assert shown[1]["result"] == {"done": 1}
    assert shown[5]["result"] == {"output": "plain text\n"}
    assert (shown[2]["state"], shown[2]["reason"]) == ("declined", "not mine")
    assert (shown[3]["state"], shown[3]["reason"]) == ("failed", "tried, the API is down")
    assert (shown[4]["state"], shown[4]["status"]) == ("blocked", "stuck")
    assert "exit status 7" in shown[4]["status_message"]
    # The stuck one waits for an answer: the worker does not run it again.
    assert cli.json("next", "--as", "code_agent") is None
